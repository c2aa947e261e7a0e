import Capture

/// Builds packet bytes by hand, header by header, for decoder and capture tests.
enum PacketBuilder {
    static func be16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xff)] }
    static func be32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * UInt32($0))) } }
    static func le32(_ value: UInt32) -> [UInt8] { be32(value).reversed() }

    /// A TCP header (with `options`, padded to 4 bytes) followed by `payload`.
    static func tcp(
        sourcePort: UInt16, destinationPort: UInt16, seq: UInt32, ack: UInt32 = 0,
        flags: TCPFlags, payload: [UInt8] = [], options: [UInt8] = []
    ) -> [UInt8] {
        var options = options
        while options.count % 4 != 0 { options.append(1) }  // NOP padding
        let headerLength = 20 + options.count
        var bytes = be16(sourcePort) + be16(destinationPort) + be32(seq) + be32(ack)
        bytes += [UInt8(headerLength / 4) << 4, flags.rawValue]
        bytes += be16(65535) + [0, 0] + [0, 0]  // window, checksum (unchecked), urgent
        return bytes + options + payload
    }

    /// An IPv4 packet; `fragment` is the flags+offset field.
    static func ipv4(
        source: [UInt8], destination: [UInt8], protocolNumber: UInt8 = 6, payload: [UInt8],
        options: [UInt8] = [], fragment: UInt16 = 0, totalLength: UInt16? = nil
    ) -> [UInt8] {
        let headerLength = 20 + options.count
        precondition(headerLength % 4 == 0)
        let total = totalLength ?? UInt16(headerLength + payload.count)
        var bytes: [UInt8] = [0x40 | UInt8(headerLength / 4), 0] + be16(total) + [0x12, 0x34] + be16(fragment)
        bytes += [64, protocolNumber, 0, 0] + source + destination + options
        return bytes + payload
    }

    /// An IPv6 packet with optional extension headers given as (type, body); each
    /// body is padded so its header is a multiple of 8 bytes.
    static func ipv6(
        source: [UInt8], destination: [UInt8], nextHeader: UInt8 = 6, payload: [UInt8],
        extensionHeaders: [(type: UInt8, body: [UInt8])] = []
    ) -> [UInt8] {
        var chain: [UInt8] = []
        var first = nextHeader
        for (index, header) in extensionHeaders.enumerated().reversed() {
            let next = index == extensionHeaders.count - 1 ? nextHeader : extensionHeaders[index + 1].type
            var body = header.body
            while (body.count + 2) % 8 != 0 { body.append(0) }
            chain = [next, UInt8((body.count + 2) / 8 - 1)] + body + chain
            first = header.type
        }
        let payloadLength = UInt16(chain.count + payload.count)
        var bytes: [UInt8] = [0x60, 0, 0, 0] + be16(payloadLength) + [first, 64]
        bytes += source + destination
        return bytes + chain + payload
    }

    /// An IPv6 fragment header chain entry (8 bytes) for `ipv6(…)` as raw chain.
    static func ipv6Fragment(source: [UInt8], destination: [UInt8], payload: [UInt8]) -> [UInt8] {
        let fragmentHeader: [UInt8] = [6, 0, 0, 1, 0, 0, 0, 42]  // offset 0, M set
        var bytes: [UInt8] = [0x60, 0, 0, 0] + be16(UInt16(8 + payload.count)) + [44, 64]
        bytes += source + destination
        return bytes + fragmentHeader + payload
    }

    static func ethernet(etherType: UInt16, payload: [UInt8], vlanTags: [(tpid: UInt16, vlan: UInt16)] = []) -> [UInt8] {
        var bytes: [UInt8] = [0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1]
        for tag in vlanTags { bytes += be16(tag.tpid) + be16(tag.vlan) }
        return bytes + be16(etherType) + payload
    }

    static func linuxSLL(protocolType: UInt16, payload: [UInt8]) -> [UInt8] {
        [0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0] + be16(protocolType) + payload
    }

    static func linuxSLL2(protocolType: UInt16, payload: [UInt8]) -> [UInt8] {
        be16(protocolType) + [0, 0] + be32(2) + [0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0] + payload
    }

    static func null(family: UInt32, littleEndian: Bool, payload: [UInt8]) -> [UInt8] {
        (littleEndian ? le32(family) : be32(family)) + payload
    }

    static let ipv4Client: [UInt8] = [10, 0, 0, 1]
    static let ipv4Server: [UInt8] = [10, 0, 0, 2]
    static let ipv6Client: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1]
    static let ipv6Server: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [2]
}

/// A TCP conversation between a client and a server, producing IP packets.
struct Conversation {
    var ipv6 = false
    var clientPort: UInt16 = 50000
    var serverPort: UInt16 = 80
    var clientISN: UInt32 = 1000
    var serverISN: UInt32 = 5000

    /// An IP packet from the client (`fromClient`) or the server.
    func packet(fromClient: Bool, seq: UInt32, ack: UInt32 = 0, flags: TCPFlags, payload: [UInt8] = []) -> [UInt8] {
        let tcp = PacketBuilder.tcp(
            sourcePort: fromClient ? clientPort : serverPort,
            destinationPort: fromClient ? serverPort : clientPort,
            seq: seq, ack: ack, flags: flags, payload: payload
        )
        if ipv6 {
            let (a, b) = (PacketBuilder.ipv6Client, PacketBuilder.ipv6Server)
            return PacketBuilder.ipv6(source: fromClient ? a : b, destination: fromClient ? b : a, payload: tcp)
        }
        let (a, b) = (PacketBuilder.ipv4Client, PacketBuilder.ipv4Server)
        return PacketBuilder.ipv4(source: fromClient ? a : b, destination: fromClient ? b : a, payload: tcp)
    }

    /// Handshake, "hello" from the client, "world!" from the server, FIN both ways, last ACK.
    func exchange() -> [[UInt8]] {
        let c = clientISN, s = serverISN
        return [
            packet(fromClient: true, seq: c, flags: .syn),
            packet(fromClient: false, seq: s, ack: c + 1, flags: [.syn, .ack]),
            packet(fromClient: true, seq: c + 1, ack: s + 1, flags: .ack),
            packet(fromClient: true, seq: c + 1, ack: s + 1, flags: [.ack, .psh], payload: Array("hello".utf8)),
            packet(fromClient: false, seq: s + 1, ack: c + 6, flags: [.ack, .psh], payload: Array("world!".utf8)),
            packet(fromClient: true, seq: c + 6, ack: s + 7, flags: [.ack, .fin]),
            packet(fromClient: false, seq: s + 7, ack: c + 7, flags: [.ack, .fin]),
            packet(fromClient: true, seq: c + 7, ack: s + 8, flags: .ack),
        ]
    }
}
