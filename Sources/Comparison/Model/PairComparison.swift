import Diagnosis
import WebSocketWire

/// One connection seen on both legs: what differed, the added latency, and the diagnosis
/// the pair rules give.
public struct PairComparison: Sendable {
    public var nearClient: LegConnection
    public var nearServer: LegConnection
    public var matchedBy: ConnectionMatcher.MatchedBy
    public var changes: [Change]
    public var latency: [FlowDirection: LatencySummary]
    public var facts: PairFacts
    public var diagnosis: ConnectionDiagnosis
    /// When the intermediary ended the connection (near-client clock), if it did.
    public var endedByIntermediaryAt: Timestamp?
}
