import Diagnosis

/// What the proxy tells its user. Called from event-loop threads, possibly concurrently:
/// implementations serialise their own output.
public protocol ProxyEvents: Sendable {
    /// A WebSocket handshake completed (or was refused) on a connection.
    func connectionOpened(_ facts: ConnectionFacts)
    /// Frames and other events of a connection as they happen (only when the analyzer
    /// configuration records a timeline).
    func connectionEvents(_ facts: ConnectionFacts, _ entries: [TimelineEntry])
    /// A connection ended and was diagnosed.
    func connectionClosed(_ connection: FinishedConnection)
    /// One of the proxy's own limits was hit (at most one line a second per limit).
    func limitReached(_ line: String)
}
