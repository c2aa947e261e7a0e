/// An IP address and TCP port, printed as `1.2.3.4:80` or `[::1]:80`.
public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
    /// The address in its textual form (dotted IPv4 or RFC 5952 IPv6).
    public var address: String
    public var port: UInt16

    public init(address: String, port: UInt16) {
        self.address = address
        self.port = port
    }

    public var description: String {
        address.contains(":") ? "[\(address)]:\(port)" : "\(address):\(port)"
    }
}
