import Capture
import WebSocketWire
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The binary addresses and ports one recorded connection is written with.
///
/// Both addresses are of one family: when one endpoint is IPv6 and the other IPv4
/// (a proxy may accept over one and connect over the other), the IPv4 address is
/// written IPv4-mapped (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2), which is how a replay
/// then shows it.
struct RecordedFlow: Hashable {
    var client: IPAddress
    var server: IPAddress
    var clientPort: UInt16
    var serverPort: UInt16

    var isIPv6: Bool { client.isIPv6 }

    /// The same for both orientations of the 4-tuple, as a capture reader keys connections.
    struct Key: Hashable {
        var low: IPAddress, lowPort: UInt16
        var high: IPAddress, highPort: UInt16
    }

    var key: Key {
        if (client, clientPort) < (server, serverPort) {
            return Key(low: client, lowPort: clientPort, high: server, highPort: serverPort)
        }
        return Key(low: server, lowPort: serverPort, high: client, highPort: clientPort)
    }

    /// Nil when either address is not a numeric IPv4 or IPv6 address.
    init?(client: Endpoint, server: Endpoint) {
        guard var clientAddress = Self.parse(client.address), var serverAddress = Self.parse(server.address) else { return nil }
        if clientAddress.isIPv6 != serverAddress.isIPv6 {
            clientAddress = Self.mapped(clientAddress)
            serverAddress = Self.mapped(serverAddress)
        }
        self.client = clientAddress
        self.server = serverAddress
        self.clientPort = client.port
        self.serverPort = server.port
    }

    /// Parses dotted IPv4 or textual IPv6 with `inet_pton`; brackets and a `%zone` suffix are dropped.
    static func parse(_ text: String) -> IPAddress? {
        var address = Substring(text)
        if address.hasPrefix("[") && address.hasSuffix("]") { address = address.dropFirst().dropLast() }
        if let percent = address.firstIndex(of: "%") { address = address[..<percent] }
        let plain = String(address)
        if plain.contains(":") {
            var raw = in6_addr()
            guard inet_pton(AF_INET6, plain, &raw) == 1 else { return nil }
            return withUnsafeBytes(of: &raw) { bytes in
                IPAddress(ipv6High: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                          low: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
            }
        }
        var raw = in_addr()
        guard inet_pton(AF_INET, plain, &raw) == 1 else { return nil }
        return IPAddress(ipv4: UInt32(bigEndian: raw.s_addr))
    }

    private static func mapped(_ address: IPAddress) -> IPAddress {
        address.isIPv6 ? address : IPAddress(ipv6High: 0, low: 0x0000_ffff_0000_0000 | address.low)
    }
}
