import Diagnosis
import LiveProxy
import NIOConcurrencyHelpers
import Reconnects
import Reporting
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Prints live proxy events, one whole report at a time.
final class LiveReporter: ProxyEvents {
    private let format: Replay.OutputFormat
    private let text: ConnectionText
    private let json: ConnectionJSON
    private let redaction: Redaction
    private let colour: Bool
    /// Print each connection's frames with its report (sniff's --frames, which cannot show them as they pass).
    private let timelineAtClose: Bool
    private let state = NIOLockedValueBox(CategoryCounts())
    /// `--html`, `--har`: where each finished connection also goes (the proxy's).
    private let reportFile: LiveReportFile?
    /// Follows how clients come back; set once, before the first connection.
    private let reconnects = NIOLockedValueBox<LiveReconnects?>(nil)

    init(format: Replay.OutputFormat, redaction: Redaction, colour: Bool, timelineAtClose: Bool = false, reportFile: LiveReportFile? = nil) {
        self.timelineAtClose = timelineAtClose
        self.reportFile = reportFile
        self.format = format
        self.redaction = redaction
        self.text = ConnectionText(redaction: redaction)
        self.json = ConnectionJSON(redaction: redaction)
        self.colour = colour
    }

    func notice(_ line: String) {
        write(format == .text ? line : Self.jsonNotice(line))
    }

    func limitReached(_ line: String) {
        notice(line)
    }

    /// Reconnect episodes are followed from now on, and printed as each is judged.
    func followReconnects(_ watch: LiveReconnects) {
        reconnects.withLockedValue { $0 = watch }
    }

    func connectionOpened(_ facts: ConnectionFacts) {
        reconnects.withLockedValue { $0 }?.opened(facts)
        guard format == .text, let handshake = facts.handshake else { return }
        var parts = ["open   #\(facts.id + 1) \(facts.client) \(handshake.method) \(redaction.target(handshake.target)) → \(handshake.status ?? 0)"]
        if let subprotocol = handshake.subprotocol { parts.append("subprotocol \(redaction.subprotocols(subprotocol))") }
        if !handshake.extensions.isEmpty { parts.append("extensions \(handshake.extensions.joined(separator: ", "))") }
        write(parts.joined(separator: "  "))
    }

    func connectionEvents(_ facts: ConnectionFacts, _ entries: [TimelineEntry]) {
        let lines = entries.compactMap { text.timelineLine($0, since: facts.opened) }
        guard !lines.isEmpty else { return }
        write(lines.map { "#\(facts.id + 1)" + $0.dropFirst(4) }.joined(separator: "\n"))
    }

    func connectionClosed(_ connection: FinishedConnection) {
        state.withLockedValue { $0.add(connection.diagnosis.category) }
        reportFile?.add(connection)
        reconnects.withLockedValue { $0 }?.closed(connection.facts)
        switch format {
        case .text:
            var block = text.render(connection.facts, diagnosis: connection.diagnosis, timeline: timelineAtClose ? connection.timeline : nil,
                                    timelineNotKept: connection.timelineEntriesNotKept, timelineGap: connection.timelineGap)
            if colour { block = Self.highlight(block, category: connection.diagnosis.category) }
            write(block + "\n")
        case .json:
            write(json.render(connection.facts, diagnosis: connection.diagnosis))
        }
    }

    /// Prints judged reconnect episodes, one block (or JSON object) each.
    func reconnectEpisodes(_ episodes: [ReconnectEpisode]) {
        for episode in episodes {
            switch format {
            case .text: write(ReconnectText(redaction: redaction).render(episode.facts, diagnosis: episode.diagnosis, closedAt: episode.closedAt) + "\n")
            case .json: write(ReconnectJSON(redaction: redaction).render(episode.facts, diagnosis: episode.diagnosis, closedAt: episode.closedAt))
            }
        }
    }

    func finish() {
        reconnects.withLockedValue { $0 }?.finish()
        let counts = state.withLockedValue { $0 }
        switch format {
        case .text: write(counts.isEmpty ? "no connections" : "by diagnosis: " + counts.summary)
        case .json: write(counts.json)
        }
    }

    private let output = NIOLock()

    /// Prints `line` as it is (a summary already in the output's format).
    func line(_ line: String) {
        write(line)
    }

    private func write(_ line: String) {
        output.withLock {
            let bytes = Array((line + "\n").utf8)
            bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let written = systemWrite(1, raw.baseAddress! + offset, raw.count - offset)
                    if written <= 0 { break }
                    offset += written
                }
            }
        }
    }

    private static func highlight(_ block: String, category: String) -> String {
        let colour: String
        switch category {
        case "normal", "going-away": colour = "32"
        case "restart", "still-open", "application": colour = "36"
        case "overload", "idle-timeout", "keepalive-timeout", "policy": colour = "33"
        default: colour = "31"
        }
        return block.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix("    diagnosis") ? "\u{1B}[\(colour)m\(line)\u{1B}[0m" : (line.hasPrefix("#") ? "\u{1B}[1m\(line)\u{1B}[0m" : String(line))
        }.joined(separator: "\n")
    }

    private static func jsonNotice(_ message: String) -> String {
        var writer = JSONWriter()
        writer.beginObject()
        writer.string("type", "notice")
        writer.string("message", message)
        writer.endObject()
        return writer.output
    }
}
