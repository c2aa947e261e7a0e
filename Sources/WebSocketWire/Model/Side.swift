/// Which endpoint of a WebSocket connection sent some bytes.
///
/// The client is the endpoint that opened the TCP connection (sent the SYN or
/// the HTTP upgrade request); the server is the other one.
public enum Side: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case client
    case server

    /// The endpoint at the other end.
    @inlinable
    public var peer: Side {
        switch self {
        case .client: return .server
        case .server: return .client
        }
    }

    public var description: String { rawValue }
}
