import Capture
import Testing

@Suite struct PacketDecoderTests {
    typealias P = PacketBuilder

    static let tcpBytes = P.tcp(sourcePort: 50000, destinationPort: 80, seq: 7, ack: 9, flags: [.ack, .psh], payload: Array("data".utf8))
    static let v4 = P.ipv4(source: P.ipv4Client, destination: P.ipv4Server, payload: tcpBytes)
    static let v6 = P.ipv6(source: P.ipv6Client, destination: P.ipv6Server, payload: tcpBytes)
    static let expectedV4 = DecodeOutcome.tcp(.init(
        source: "10.0.0.1:50000", destination: "10.0.0.2:80", sequenceNumber: 7, acknowledgmentNumber: 9,
        flags: [.ack, .psh], payload: Array("data".utf8), payloadLength: 4
    ))
    static let expectedV6 = DecodeOutcome.tcp(.init(
        source: "[2001:db8::1]:50000", destination: "[2001:db8::2]:80", sequenceNumber: 7, acknowledgmentNumber: 9,
        flags: [.ack, .psh], payload: Array("data".utf8), payloadLength: 4
    ))

    @Test func ethernet() {
        #expect(DecodeOutcome.decode(LinkType.ethernet, P.ethernet(etherType: 0x0800, payload: Self.v4)) == Self.expectedV4)
        #expect(DecodeOutcome.decode(LinkType.ethernet, P.ethernet(etherType: 0x86DD, payload: Self.v6)) == Self.expectedV6)
    }

    @Test func ethernetWithVLANTags() {
        let single = P.ethernet(etherType: 0x0800, payload: Self.v4, vlanTags: [(0x8100, 42)])
        #expect(DecodeOutcome.decode(LinkType.ethernet, single) == Self.expectedV4)
        let qinq = P.ethernet(etherType: 0x86DD, payload: Self.v6, vlanTags: [(0x88A8, 100), (0x8100, 42)])
        #expect(DecodeOutcome.decode(LinkType.ethernet, qinq) == Self.expectedV6)
    }

    @Test func ethernetPaddingIsNotPayload() {
        let padded = P.ethernet(etherType: 0x0800, payload: Self.v4 + [0, 0, 0, 0, 0, 0])
        #expect(DecodeOutcome.decode(LinkType.ethernet, padded) == Self.expectedV4)
    }

    @Test func linuxCookedV1AndV2() {
        #expect(DecodeOutcome.decode(LinkType.linuxSLL, P.linuxSLL(protocolType: 0x0800, payload: Self.v4)) == Self.expectedV4)
        #expect(DecodeOutcome.decode(LinkType.linuxSLL, P.linuxSLL(protocolType: 0x86DD, payload: Self.v6)) == Self.expectedV6)
        #expect(DecodeOutcome.decode(LinkType.linuxSLL2, P.linuxSLL2(protocolType: 0x0800, payload: Self.v4)) == Self.expectedV4)
        #expect(DecodeOutcome.decode(LinkType.linuxSLL2, P.linuxSLL2(protocolType: 0x86DD, payload: Self.v6)) == Self.expectedV6)
    }

    @Test(arguments: [LinkType.raw, LinkType.rawOpenBSD, LinkType.linktypeRaw])
    func rawIP(linkType: Int32) {
        #expect(DecodeOutcome.decode(linkType, Self.v4) == Self.expectedV4)
        #expect(DecodeOutcome.decode(linkType, Self.v6) == Self.expectedV6)
    }

    @Test func rawIPv4AndIPv6LinkTypes() {
        #expect(DecodeOutcome.decode(LinkType.ipv4, Self.v4) == Self.expectedV4)
        #expect(DecodeOutcome.decode(LinkType.ipv6, Self.v6) == Self.expectedV6)
    }

    @Test(arguments: [LinkType.null, LinkType.loop], [true, false])
    func bsdLoopbackInBothByteOrders(linkType: Int32, littleEndian: Bool) {
        #expect(DecodeOutcome.decode(linkType, P.null(family: 2, littleEndian: littleEndian, payload: Self.v4)) == Self.expectedV4)
        for family: UInt32 in [24, 28, 30] {
            #expect(DecodeOutcome.decode(linkType, P.null(family: family, littleEndian: littleEndian, payload: Self.v6)) == Self.expectedV6)
        }
        #expect(DecodeOutcome.decode(linkType, P.null(family: 7, littleEndian: littleEndian, payload: Self.v4)) == .notTCP)
    }

    @Test func ipv4OptionsAndTCPOptionsAreSkipped() {
        let tcp = P.tcp(sourcePort: 50000, destinationPort: 80, seq: 7, ack: 9, flags: [.ack, .psh], payload: Array("data".utf8),
                        options: [2, 4, 0x05, 0xb4, 1, 3, 3, 7, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2])
        let packet = P.ipv4(source: P.ipv4Client, destination: P.ipv4Server, payload: tcp, options: [0x94, 4, 0, 0])
        #expect(DecodeOutcome.decode(LinkType.raw, packet) == Self.expectedV4)
    }

    @Test func ipv6ExtensionHeadersAreSkipped() {
        let packet = P.ipv6(source: P.ipv6Client, destination: P.ipv6Server, payload: Self.tcpBytes,
                            extensionHeaders: [(0, [1, 4, 0, 0, 0, 0]), (43, [0, 0, 0, 0, 0, 0]), (60, [1, 12] + [UInt8](repeating: 0, count: 12))])
        #expect(DecodeOutcome.decode(LinkType.raw, packet) == Self.expectedV6)
    }

    @Test func fragmentsAreReportedNotDecoded() {
        let later = P.ipv4(source: P.ipv4Client, destination: P.ipv4Server, payload: [UInt8](repeating: 0, count: 16), fragment: 185)
        #expect(DecodeOutcome.decode(LinkType.raw, later) == .fragment)
        let first = P.ipv4(source: P.ipv4Client, destination: P.ipv4Server, payload: Self.tcpBytes, fragment: 0x2000)
        #expect(DecodeOutcome.decode(LinkType.raw, first) == .fragment)
        let dontFragment = P.ipv4(source: P.ipv4Client, destination: P.ipv4Server, payload: Self.tcpBytes, fragment: 0x4000)
        #expect(DecodeOutcome.decode(LinkType.raw, dontFragment) == Self.expectedV4)
        #expect(DecodeOutcome.decode(LinkType.raw, P.ipv6Fragment(source: P.ipv6Client, destination: P.ipv6Server, payload: Self.tcpBytes)) == .fragment)
    }

    @Test func otherProtocolsAreNotTCP() {
        let udp = P.ipv4(source: P.ipv4Client, destination: P.ipv4Server, protocolNumber: 17, payload: [0, 53, 0, 53, 0, 8, 0, 0])
        #expect(DecodeOutcome.decode(LinkType.raw, udp) == .notTCP)
        #expect(DecodeOutcome.decode(LinkType.ethernet, P.ethernet(etherType: 0x0806, payload: [UInt8](repeating: 0, count: 28))) == .notTCP)
        let icmpv6 = P.ipv6(source: P.ipv6Client, destination: P.ipv6Server, nextHeader: 58, payload: [128, 0, 0, 0])
        #expect(DecodeOutcome.decode(LinkType.raw, icmpv6) == .notTCP)
    }

    @Test func cutHeadersAreTruncatedAtEveryLength() {
        let frame = P.ethernet(etherType: 0x0800, payload: Self.v4)
        let headerEnd = 14 + 20 + 20
        for length in 0..<headerEnd {
            #expect(DecodeOutcome.decode(LinkType.ethernet, Array(frame.prefix(length))) == .truncated, "length \(length)")
        }
        for length in 0..<(40 + 20) {
            #expect(DecodeOutcome.decode(LinkType.ipv6, Array(Self.v6.prefix(length))) == .truncated, "length \(length)")
        }
    }

    @Test func cutPayloadKeepsTheDeclaredLength() {
        let cut = Array(Self.v4.dropLast(2))
        guard case .tcp(let segment) = DecodeOutcome.decode(LinkType.raw, cut) else {
            Issue.record("expected a TCP segment")
            return
        }
        #expect(segment.payload == Array("da".utf8))
        #expect(segment.payloadLength == 4)
    }

    @Test func impossibleHeaderFieldsAreMalformed() {
        var badIHL = Self.v4
        badIHL[0] = 0x44
        #expect(DecodeOutcome.decode(LinkType.raw, badIHL) == .malformed)
        var badOffset = Self.v4
        badOffset[20 + 12] = 0x40
        #expect(DecodeOutcome.decode(LinkType.raw, badOffset) == .malformed)
    }

    @Test func totalLengthZeroMeansTheCapturedLength() {
        let tso = P.ipv4(source: P.ipv4Client, destination: P.ipv4Server, payload: Self.tcpBytes, totalLength: 0)
        #expect(DecodeOutcome.decode(LinkType.raw, tso) == Self.expectedV4)
    }

    @Test func unsupportedLinkType() {
        #expect(DecodeOutcome.decode(105, Self.v4) == .unsupportedLinkType)
        #expect(!LinkType.isSupported(105))
        #expect(LinkType.isSupported(LinkType.linuxSLL2))
    }
}
