import Diagnosis
import Reporting
import WebSocketWire

/// One block per compared pair, then unmatched connections and a summary.
public struct ComparisonText: Sendable {
    public var redaction: Redaction

    public init(redaction: Redaction = Redaction()) {
        self.redaction = redaction
    }

    public func render(_ pair: PairComparison, number: Int) -> String {
        let nearClient = pair.nearClient.facts
        let nearServer = pair.nearServer.facts
        var lines = ["pair \(number)  \(nearClient.opened.iso8601)  matched by \(pair.matchedBy.rawValue)"]
        lines.append(field("near client", "#\(nearClient.id + 1) \(nearClient.client) → \(nearClient.server)" + path(nearClient)))
        lines.append(field("near server", "#\(nearServer.id + 1) \(nearServer.client) → \(nearServer.server)" + path(nearServer)))
        if pair.changes.isEmpty {
            lines.append(field("changes", "none: both legs carried the same handshake, messages, control frames and close"))
        } else {
            lines.append(field("changes", "\(pair.changes.count)"))
            for change in pair.changes {
                let frames = "frame nc \(change.nearClientFrame.map(String.init) ?? "-") / ns \(change.nearServerFrame.map(String.init) ?? "-")"
                let offset = "+" + formatDuration(max(0, change.at.seconds(since: nearClient.opened)))
                lines.append("      \(offset.padding(to: 10)) \(change.direction.rawValue.padding(to: 16)) \(change.kind.rawValue.padding(to: 22)) \(frames.padding(to: 20)) \(change.detail)")
            }
        }
        let latency = FlowDirection.allCases.compactMap { direction -> String? in
            guard let summary = pair.latency[direction] else { return nil }
            return "\(direction.rawValue) p50 \(formatDuration(summary.p50)), p99 \(formatDuration(summary.p99)), max \(formatDuration(summary.max)) over \(summary.messages) message\(summary.messages == 1 ? "" : "s")"
        }
        if !latency.isEmpty { lines.append(field("latency", latency.joined(separator: "; "))) }
        lines.append(contentsOf: ConnectionText(redaction: redaction).diagnosisLines(pair.diagnosis))
        return lines.joined(separator: "\n")
    }

    public func unmatched(_ connection: LegConnection, foundIn leg: Leg) -> String {
        let facts = connection.facts
        return "only \(leg == .nearClient ? "near client" : "near server")  #\(facts.id + 1) \(facts.client) → \(facts.server)\(path(facts))  \(facts.opened.iso8601): no counterpart in the other capture"
    }

    public func summary(_ totals: ComparisonTotals) -> String {
        var lines: [String] = []
        let clock = totals.clock
        var offset = "clock offset \(formatSigned(clock.seconds)) (near server minus near client)"
        if let low = clock.lowerBound, let high = clock.upperBound { offset += ", handshakes allow \(formatSigned(low)) to \(formatSigned(high))" }
        lines.append(offset)
        lines.append("\(totals.pairs) pair\(totals.pairs == 1 ? "" : "s"), \(totals.onlyNearClient) only near the client, \(totals.onlyNearServer) only near the server")
        let changes = totals.changeCounts
        if !changes.isEmpty { lines.append("changes: " + changes.map { "\($0.0) \($0.1)" }.joined(separator: ", ")) }
        let categories = totals.categoryCounts
        if !categories.isEmpty { lines.append("by diagnosis: " + categories.map { "\($0.0) \($0.1)" }.joined(separator: ", ")) }
        return lines.joined(separator: "\n")
    }

    private func path(_ facts: ConnectionFacts) -> String {
        facts.handshake.map { "  " + redaction.target($0.target) } ?? ""
    }

    private func field(_ name: String, _ value: String) -> String {
        "    " + name.padding(to: 12) + " " + value
    }

    private func formatSigned(_ seconds: Double) -> String {
        (seconds < 0 ? "-" : "+") + formatDuration(abs(seconds))
    }
}
