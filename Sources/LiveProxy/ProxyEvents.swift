import Capture
import Diagnosis

/// What the proxy tells its user. Called from event-loop threads, possibly concurrently:
/// implementations serialise their own output.
public protocol ProxyEvents: Sendable {
    /// A WebSocket handshake completed (or was refused) on a connection.
    func connectionOpened(_ facts: ConnectionFacts)
    /// A connection ended and was diagnosed.
    func connectionClosed(_ connection: FinishedConnection)
}
