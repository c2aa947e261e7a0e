import Diagnosis
import WebSocketWire

/// One self-contained HTML file: an overview of every connection on one time axis with a
/// searchable table, and per connection its handshake, timeline, close and diagnosis.
///
/// The page's CSS and script are inline and its data is one JSON block; a Content Security
/// Policy of `default-src 'none'` keeps the browser from fetching anything at all. Each
/// connection is turned into its compact JSON when added and only that text is kept, so
/// the file grows linearly with the frames shown. Payloads are never in it (wsdoctor does
/// not keep them); handshake credentials are redacted unless `--show-secrets`.
public struct HTMLReport: Sendable {
    public var redaction: Redaction
    /// Frames kept per connection in the report: the first and the last half of this.
    /// 20,000 frames are about 500 KB of page data; the middle of a long session rarely
    /// explains its end, and the omitted count is shown.
    public static let maxFramesPerConnection = 20_000
    public private(set) var connections: [String] = []

    public init(redaction: Redaction = Redaction()) {
        self.redaction = redaction
    }

    /// - Parameter capture: the file the connection came from, when replaying.
    public mutating func add(_ connection: FinishedConnection, capture: String? = nil) {
        connections.append(connectionJSON(connection.facts, diagnosis: connection.diagnosis, timeline: connection.timeline,
                                          timelineEntriesNotKept: connection.timelineEntriesNotKept, timelineGap: connection.timelineGap,
                                          capture: capture, id: connections.count + 1))
    }

    /// The whole page. `open` (live modes) are shown after the finished connections, as open
    /// with what is known so far; they are not kept, so the next page has them as they are then.
    public func document(title: String, source: String, generated: Timestamp, open: [OpenConnection] = []) -> String {
        var head = JSONWriter()
        head.beginObject()
        head.string("title", title)
        head.string("source", source)
        head.string("generated", generated.iso8601)
        head.number("frameBound", Self.maxFramesPerConnection)
        head.endObject()
        var data = head.output
        data.removeLast()
        let openJSON = open.enumerated().map { offset, connection in
            connectionJSON(connection.facts, diagnosis: nil, timeline: connection.timeline,
                           timelineEntriesNotKept: connection.timelineEntriesNotKept, timelineGap: connection.timelineGap,
                           capture: nil, id: connections.count + offset + 1)
        }
        data += ",\"connections\":[" + (connections + openJSON).joined(separator: ",\n") + "]}"
        // Inside <script> only "</" could end the block early; "<\/" is the same JSON.
        data = data.replacingOccurrences(of: "</", with: "<\\/")
        return HTMLPage.render(title: Self.escape(title), data: data)
    }

    /// Text made safe for HTML element content.
    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(character)
            }
        }
        return out
    }

    // MARK: Data

    /// One connection's data; an open connection (`diagnosis` nil) says so instead of a diagnosis.
    private func connectionJSON(_ facts: ConnectionFacts, diagnosis: ConnectionDiagnosis?, timeline: [TimelineEntry],
                                timelineEntriesNotKept: Int, timelineGap: Int?, capture: String?, id: Int) -> String {
        var json = JSONWriter()
        json.beginObject()
        // Numbered across the report: several captures each count from 1.
        json.number("id", id)
        json.number("inCapture", facts.id + 1)
        json.string("capture", capture)
        json.string("client", facts.client.description)
        json.string("server", facts.server.description)
        json.string("path", facts.handshake.map { redaction.target($0.path) })
        json.number("status", facts.handshake?.status)
        json.number("opened", epoch(facts.opened))
        json.number("closed", facts.closed.map(epoch))
        json.number("code", facts.firstClose?.code)
        json.string("codeName", facts.firstClose?.code.map { CloseCode.name(of: $0) })
        json.string("initiator", facts.closeInitiator?.rawValue)
        json.number("closeAt", (facts.firstClose?.at ?? facts.transport.firstEndAt).map(epoch))
        json.number("bytes", facts.fromClient.bytes + facts.fromServer.bytes)
        json.number("messages", facts.fromClient.messages + facts.fromServer.messages)
        json.number("frames", facts.fromClient.frames + facts.fromServer.frames)
        json.number("violations", facts.violations.count + facts.violationsNotKept)
        json.bool("incomplete", facts.incomplete)
        json.bool("open", diagnosis == nil)
        json.beginObject("diagnosis")
        if let diagnosis {
            json.diagnosisFields(diagnosis, redaction)
            json.string("severity", diagnosis.severity.rawValue)
        } else {
            Self.openDiagnosisFields(into: &json)
        }
        json.endObject()
        handshakeJSON(facts.handshake, into: &json)
        closeJSON(facts, into: &json)
        json.beginArray("violationList")
        for violation in facts.violations { json.violation(violation) }
        json.endArray()
        json.beginArray("notices")
        for notice in facts.notices { json.notice(notice) }
        json.endArray()
        json.endObject()
        var out = json.output
        out.removeLast()
        out += "," + timelineJSON(facts, timeline: timeline, timelineEntriesNotKept: timelineEntriesNotKept, timelineGap: timelineGap) + "}"
        return out
    }

    /// What stands in for the diagnosis of a connection still open: nothing is diagnosed
    /// before the end, and the page says so.
    private static func openDiagnosisFields(into json: inout JSONWriter) {
        json.string("id", "open")
        json.string("category", "open")
        json.string("summary", "Still open: no diagnosis yet.")
        json.string("explanation", "This is what is known so far. The connection is diagnosed when it ends, and the report rewritten after that shows it.")
        json.string("fix", "")
        json.beginObject("evidence")
        json.endObject()
        json.beginArray("references")
        json.endArray()
        json.string("rule_source", "")
        json.string("severity", Severity.info.rawValue)
    }

    private func handshakeJSON(_ handshake: HandshakeFacts?, into json: inout JSONWriter) {
        guard let handshake else {
            json.string("handshake", nil)
            return
        }
        json.beginObject("handshake")
        json.string("method", handshake.method)
        json.string("target", redaction.target(handshake.target))
        json.number("requestedAt", epoch(handshake.requestedAt))
        headersJSON("request", handshake.requestHeaders, into: &json)
        json.number("status", handshake.status)
        json.string("reason", handshake.reason)
        json.number("answeredAt", handshake.answeredAt.map(epoch))
        if let response = handshake.responseHeaders { headersJSON("response", response, into: &json) }
        json.endObject()
    }

    private func headersJSON(_ key: String, _ headers: HTTPHeaders, into json: inout JSONWriter) {
        json.beginArray(key)
        for (name, value) in headers {
            json.beginArray()
            json.string(nil, name)
            json.string(nil, redaction.header(name: name, value: value))
            json.endArray()
        }
        json.endArray()
    }

    private func closeJSON(_ facts: ConnectionFacts, into json: inout JSONWriter) {
        json.beginArray("closeSequence")
        var steps: [(at: Timestamp, side: String, what: String)] = []
        for side in Side.allCases {
            if let close = facts.close(from: side) {
                let code = close.code.map { "\($0) \(CloseCode.name(of: $0))" } ?? "no code (1005)"
                steps.append((close.at, side.rawValue, "close frame " + code + (close.reason.isEmpty ? "" : " “\(close.reason)”")))
            }
        }
        let transport = facts.transport
        if let at = transport.clientFinAt { steps.append((at, "client", "TCP FIN")) }
        if let at = transport.serverFinAt { steps.append((at, "server", "TCP FIN")) }
        if let side = transport.resetBy, let at = transport.resetAt { steps.append((at, side.rawValue, "TCP RST")) }
        if transport.captureEndedOpen, let at = facts.closed { steps.append((at, "", "capture ended with the connection open")) }
        if transport.trackingExpired, let at = facts.closed { steps.append((at, "", "stopped following it after --idle-expiry")) }
        for step in steps.sorted(by: { $0.at < $1.at }) {
            json.beginObject()
            json.number("at", epoch(step.at))
            json.string("side", step.side)
            json.string("what", step.what)
            json.endObject()
        }
        json.endArray()
    }

    /// Frames as one flat array of six numbers each, `[µs since open, side (0 client,
    /// 1 server), opcode, payload length, flags (1 FIN, 2 masked, RSV bits × 4), index in
    /// its side]`, joined ping/pong pairs as positions in it, and capture gaps.
    private func timelineJSON(_ facts: ConnectionFacts, timeline: [TimelineEntry], timelineEntriesNotKept: Int,
                              timelineGap: Int?) -> String {
        let opened = facts.opened
        var frames: [(at: Timestamp, frame: FrameInfo)] = []
        var gaps: [(at: Timestamp, side: Side, detail: String)] = []
        var framesBeforeGap: Int?
        for (position, entry) in timeline.enumerated() {
            if position == timelineGap { framesBeforeGap = frames.count }
            switch entry.event {
            case .frame(let frame): frames.append((entry.at, frame))
            case .notice(let notice) where notice.kind == .gap: gaps.append((entry.at, notice.side, notice.detail))
            case .request, .response, .handshake, .resynchronised, .message, .close, .ping, .pong, .violation, .notice, .stopped, .tally:
                break
            }
        }
        var omitted = timelineEntriesNotKept > 0 ? facts.fromClient.frames + facts.fromServer.frames - frames.count : 0
        if frames.count > Self.maxFramesPerConnection {
            // Cut where the analyzer already left entries out, so the page has one gap: the
            // first frames before it and the latest after it, half the bound each when there are.
            let bound = Self.maxFramesPerConnection, half = bound / 2
            let split = framesBeforeGap ?? frames.count / 2
            let fromHead = min(split, max(half, bound - (frames.count - split)))
            let fromTail = min(frames.count - split, bound - fromHead)
            omitted += frames.count - fromHead - fromTail
            frames = Array(frames[..<fromHead] + frames[(frames.count - fromTail)...])
        }
        var out = "\"omittedFrames\":\(max(0, omitted)),\"frameList\":["
        out.reserveCapacity(out.utf8.count + frames.count * 24)
        var pending: [Side: [Int]] = [.client: [], .server: []]
        var pairs: [Int] = []
        for (position, item) in frames.enumerated() {
            let frame = item.frame
            let micros = (item.at.nanoseconds - opened.nanoseconds) / 1000
            let flags = (frame.fin ? 1 : 0) | (frame.masked ? 2 : 0) | Int(frame.reservedBits) << 2
            if position > 0 { out += "," }
            out += "\(micros),\(frame.side == .client ? 0 : 1),\(frame.opcode.rawValue),\(frame.payloadLength),\(flags),\(frame.index)"
            // A pong answers the oldest ping the other side still waits on.
            if frame.opcode == .ping {
                if pending[frame.side]!.count < 64 { pending[frame.side]!.append(position) }
            } else if frame.opcode == .pong, !pending[frame.side.peer]!.isEmpty {
                pairs += [pending[frame.side.peer]!.removeFirst(), position]
            }
        }
        out += "],\"pingPairs\":[" + pairs.map(String.init).joined(separator: ",") + "],\"gaps\":["
        out += gaps.map { gap in
            var json = JSONWriter()
            json.beginObject()
            json.number("at", (gap.at.nanoseconds - opened.nanoseconds) / 1000)
            json.string("side", gap.side.rawValue)
            json.string("detail", gap.detail)
            json.endObject()
            return json.output
        }.joined(separator: ",")
        return out + "]"
    }

    private func epoch(_ time: Timestamp) -> Double { Double(time.nanoseconds) / 1e9 }
}
