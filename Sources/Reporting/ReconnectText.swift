import Diagnosis
import WebSocketWire

/// One text block per reconnect episode: who, after what, the attempts, and the verdict.
public struct ReconnectText: Sendable {
    private let connectionText: ConnectionText

    public init(redaction: Redaction) { connectionText = ConnectionText(redaction: redaction) }

    public func render(_ facts: ReconnectFacts, diagnosis: ConnectionDiagnosis, closedAt: Timestamp) -> String {
        var lines = ["reconnects \(facts.client) \(facts.path) after \(facts.after) at \(closedAt.iso8601)"]
        let delays = facts.delays.isEmpty ? "none" : facts.delaysInMilliseconds.joined(separator: ", ") + " s"
        lines.append("    attempts   \(facts.attempts), delays \(delays); \(facts.outcome.rawValue)")
        lines.append(contentsOf: connectionText.diagnosisLines(diagnosis))
        return lines.joined(separator: "\n")
    }
}
