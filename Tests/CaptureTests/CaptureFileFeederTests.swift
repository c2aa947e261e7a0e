import Capture
import Foundation
import Testing

@Suite struct CaptureFileFeederTests {
    typealias W = CaptureFileWriter
    typealias P = PacketBuilder

    struct Framing: CustomStringConvertible, Sendable {
        var name: String
        var linkType: Int32
        var ipv6: Bool
        var wrap: @Sendable ([UInt8]) -> [UInt8]
        var description: String { name }
    }

    static let framings: [Framing] = [
        Framing(name: "ethernet v4", linkType: 1, ipv6: false) { P.ethernet(etherType: 0x0800, payload: $0) },
        Framing(name: "ethernet 802.1Q v6", linkType: 1, ipv6: true) { P.ethernet(etherType: 0x86DD, payload: $0, vlanTags: [(0x8100, 7)]) },
        Framing(name: "ethernet 802.1ad+Q v4", linkType: 1, ipv6: false) { P.ethernet(etherType: 0x0800, payload: $0, vlanTags: [(0x88A8, 3), (0x8100, 7)]) },
        Framing(name: "linux cooked v1", linkType: 113, ipv6: false) { P.linuxSLL(protocolType: 0x0800, payload: $0) },
        Framing(name: "linux cooked v2", linkType: 276, ipv6: true) { P.linuxSLL2(protocolType: 0x86DD, payload: $0) },
        Framing(name: "raw 12 v4", linkType: 12, ipv6: false) { $0 },
        Framing(name: "raw 12 v6", linkType: 12, ipv6: true) { $0 },
        Framing(name: "ipv4 228", linkType: 228, ipv6: false) { $0 },
        Framing(name: "ipv6 229", linkType: 229, ipv6: true) { $0 },
        Framing(name: "null little-endian v4", linkType: 0, ipv6: false) { P.null(family: 2, littleEndian: true, payload: $0) },
        Framing(name: "null big-endian v6", linkType: 0, ipv6: true) { P.null(family: 30, littleEndian: false, payload: $0) },
        Framing(name: "loop v4", linkType: 108, ipv6: false) { P.null(family: 2, littleEndian: false, payload: $0) },
    ]

    static func expectedEvents(ipv6: Bool) -> [RecordingDelegate.Event] {
        [
            .opened(1, client: ipv6 ? "[2001:db8::1]:50000" : "10.0.0.1:50000", server: ipv6 ? "[2001:db8::2]:80" : "10.0.0.2:80",
                    sawSYN: true, sidesGuessed: false),
            .data(1, .client, "hello"), .data(1, .server, "world!"), .finished(1, .client), .finished(1, .server),
        ]
    }

    static func packets(_ framing: Framing) -> [TestPacket] {
        var conversation = Conversation()
        conversation.ipv6 = framing.ipv6
        return conversation.exchange().enumerated().map { TestPacket(framing.wrap($1), at: 1_000_000_000 + Int64($0)) }
    }

    @Test(arguments: framings)
    func everyLinkTypeThroughLibpcap(framing: Framing) throws {
        let path = W.writePcap(linkType: framing.linkType, nanosecond: true, packets: Self.packets(framing))
        defer { W.remove(path) }
        let delegate = RecordingDelegate()
        let statistics = try CaptureFileFeeder(path: path).run(delegate: delegate)
        #expect(delegate.events == Self.expectedEvents(ipv6: framing.ipv6))
        #expect(statistics.packetsRead == 8)
        #expect(statistics.tcpSegments == 8)
        #expect(statistics.gaps == 0)
        #expect(statistics.reassembly.segmentsAfterClose == 1)
    }

    @Test func linktypeRaw101File() throws {
        // libpcap maps LINKTYPE_RAW (101) in a file to its DLT_RAW.
        let framing = Self.framings.first { $0.name == "raw 12 v4" }!
        let path = W.writePcapNG(linkType: 101, bigEndian: true, nanosecondResolution: false, packets: Self.packets(framing))
        defer { W.remove(path) }
        let delegate = RecordingDelegate()
        try CaptureFileFeeder(path: path).run(delegate: delegate)
        #expect(delegate.events == Self.expectedEvents(ipv6: false))
    }

    @Test func pcapNGWithLinuxCookedV2() throws {
        let framing = Self.framings.first { $0.name == "linux cooked v2" }!
        let path = W.writePcapNG(linkType: 276, bigEndian: false, nanosecondResolution: true, packets: Self.packets(framing))
        defer { W.remove(path) }
        let delegate = RecordingDelegate()
        try CaptureFileFeeder(path: path).run(delegate: delegate)
        #expect(delegate.events == Self.expectedEvents(ipv6: true))
        #expect(delegate.times.first == 1_000_000_000)
    }

    @Test func skippedPacketsAreCounted() throws {
        let conversation = Conversation()
        let c = conversation.clientISN
        let s = conversation.serverISN
        let exchange = conversation.exchange()
        let udp = P.ipv4(source: P.ipv4Client, destination: P.ipv4Server, protocolNumber: 17, payload: [0, 53, 0, 53, 0, 8, 0, 0])
        let fragment = P.ipv4(source: P.ipv4Client, destination: P.ipv4Server, payload: [UInt8](repeating: 0, count: 16), fragment: 185)
        let cutHeader = Array(exchange[3].prefix(30))
        let bigData = conversation.packet(fromClient: true, seq: c + 6, ack: s + 1, flags: .ack, payload: Array("0123456789".utf8))
        let cutPayload = Array(bigData.dropLast(4))
        let packets = exchange[0..<4].map { TestPacket($0) }
            + [TestPacket(udp), TestPacket(fragment), TestPacket(cutHeader, originalLength: exchange[3].count), TestPacket(cutPayload, originalLength: bigData.count)]
            // The server acknowledging the cut bytes tells the reassembler they are lost.
            + [TestPacket(conversation.packet(fromClient: false, seq: s + 1, ack: c + 16, flags: .ack))]
        let path = W.writePcap(linkType: LinkType.raw, nanosecond: false, packets: packets)
        defer { W.remove(path) }
        let delegate = RecordingDelegate()
        let statistics = try CaptureFileFeeder(path: path).run(delegate: delegate)
        #expect(statistics.packetsRead == 9)
        #expect(statistics.nonTCPSkipped == 1)
        #expect(statistics.fragmentsSkipped == 1)
        #expect(statistics.truncatedPackets == 2)
        #expect(statistics.gaps == 1)
        #expect(delegate.events.suffix(3) == [.data(1, .client, "hello012345"), .gap(1, .client, 4), .ended(1)])
    }

    @Test func filterAndServerPortsReachTheReassembler() throws {
        var conversation = Conversation()
        conversation.serverPort = 9000
        conversation.clientPort = 8000
        let exchange = conversation.exchange()
        var other = Conversation()
        other.serverPort = 81
        // Without the SYN the lower port (8000) would be guessed as the server.
        let packets = (exchange[3...] + other.exchange()).map { TestPacket($0) }
        let path = W.writePcap(linkType: LinkType.raw, nanosecond: true, packets: packets)
        defer { W.remove(path) }
        let delegate = RecordingDelegate()
        let feeder = CaptureFileFeeder(path: path, filter: "tcp port 9000", configuration: .init(serverPorts: [9000]))
        let statistics = try feeder.run(delegate: delegate)
        #expect(statistics.packetsRead == 5)
        #expect(delegate.events == [
            .opened(1, client: "10.0.0.1:8000", server: "10.0.0.2:9000", sawSYN: false, sidesGuessed: false),
            .data(1, .client, "hello"), .data(1, .server, "world!"), .finished(1, .client), .finished(1, .server),
        ])
    }

    @Test func truncatedFileDeliversEverythingThenThrows() throws {
        let exchange = Conversation().exchange()
        let path = W.writePcap(linkType: LinkType.raw, nanosecond: true, packets: exchange[0..<5].map { TestPacket($0) })
        defer { W.remove(path) }
        W.chop(path, bytes: 3)
        let delegate = RecordingDelegate()
        let feeder = CaptureFileFeeder(path: path)
        #expect {
            try feeder.run(delegate: delegate)
        } throws: { error in
            let error = error as? CaptureError
            return error?.reason == .truncatedCapture && error?.path == path
        }
        #expect(delegate.events == [
            .opened(1, client: "10.0.0.1:50000", server: "10.0.0.2:80", sawSYN: true, sidesGuessed: false),
            .data(1, .client, "hello"), .ended(1),
        ])
        #expect(feeder.statistics.packetsRead == 4)
    }

    @Test func unsupportedLinkTypeIsRefused() {
        let path = W.writePcap(linkType: 105, nanosecond: true, packets: [TestPacket([0, 1, 2, 3])])
        defer { W.remove(path) }
        do {
            try CaptureFileFeeder(path: path).run(delegate: RecordingDelegate())
            Issue.record("expected an error")
        } catch {
            #expect(error.reason == .unsupportedLinkType)
            #expect(error.description.hasPrefix("\(path): unsupported link type 105 (IEEE802_11)"))
        }
    }

    @Test func missingFileThrowsBeforeAnyEvent() {
        let delegate = RecordingDelegate()
        let path = W.temporaryPath(".pcap")
        #expect(throws: CaptureError.self) { try CaptureFileFeeder(path: path).run(delegate: delegate) }
        #expect(delegate.events.isEmpty)
    }
}
