import Diagnosis
import WebSocketWire

/// One client's way back after a close, measured and judged.
public struct ReconnectEpisode: Sendable {
    public var facts: ReconnectFacts
    public var diagnosis: ConnectionDiagnosis
    /// When the close (or refusal) that started it came.
    public var closedAt: Timestamp
}
