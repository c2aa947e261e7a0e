import Diagnosis
import WebSocketWire

/// WebSocket connections as a HAR 1.2 log, in the shape Chrome DevTools exports them
/// (`_resourceType: "websocket"`, `_webSocketMessages`), so DevTools, HTTP Toolkit and
/// other HAR viewers import them; wsdoctor's close and diagnosis ride along in `_wsdoctor`.
///
/// Each connection is rendered when added and only its text is kept. wsdoctor never keeps
/// message payloads, so a data message's `data` is empty when the message was and
/// `REDACTED` otherwise; ping and pong payloads appear only with `--show-secrets`; a close
/// frame's `data` is its reason, as every other output prints it. Messages come from the
/// analyzer's timeline, so its bound (`AnalyzerConfiguration.maxTimelineEntries`) applies;
/// `_wsdoctor.messages_not_kept` counts what it left out.
public struct HARLog: Sendable {
    public var redaction: Redaction
    public private(set) var entries: [String] = []

    public init(redaction: Redaction = Redaction()) {
        self.redaction = redaction
    }

    public mutating func add(_ connection: FinishedConnection) {
        entries.append(entry(connection.facts, diagnosis: connection.diagnosis, timeline: connection.timeline,
                             timelineEntriesNotKept: connection.timelineEntriesNotKept))
    }

    /// The whole log; `version` is wsdoctor's. `open` (live modes) follow the finished
    /// connections with `_wsdoctor.open` true and no diagnosis yet.
    public func document(version: String, open: [OpenConnection] = []) -> String {
        var head = JSONWriter()
        head.beginObject()
        head.string("name", "wsdoctor")
        head.string("version", version)
        head.endObject()
        return "{\"log\":{\"version\":\"1.2\",\"creator\":" + head.output + ",\"pages\":[],\"entries\":["
            + (entries + open.map { entry($0.facts, diagnosis: nil, timeline: $0.timeline, timelineEntriesNotKept: $0.timelineEntriesNotKept) })
                .joined(separator: ",\n") + "]}}\n"
    }

    private func entry(_ facts: ConnectionFacts, diagnosis: ConnectionDiagnosis?, timeline: [TimelineEntry], timelineEntriesNotKept: Int) -> String {
        let handshake = facts.handshake
        let started = handshake?.requestedAt ?? facts.opened
        var json = JSONWriter()
        json.beginObject()
        json.string("startedDateTime", started.iso8601)
        let waited = handshake?.answeredAt.map { max(0, $0.seconds(since: started) * 1000) } ?? 0
        json.number("time", waited)
        request(facts, into: &json)
        response(handshake, into: &json)
        json.beginObject("cache")
        json.endObject()
        json.beginObject("timings")
        json.number("send", 0)
        json.number("wait", waited)
        json.number("receive", 0)
        json.endObject()
        json.string("serverIPAddress", facts.server.address)
        json.string("connection", String(facts.client.port))
        json.string("_resourceType", "websocket")
        json.beginArray("_webSocketMessages")
        for item in timeline { message(item, into: &json) }
        json.endArray()
        json.beginObject("_wsdoctor")
        json.number("id", facts.id + 1)
        json.string("client", facts.client.description)
        json.string("server", facts.server.description)
        json.string("closed", facts.closed?.iso8601)
        json.beginObject("close")
        json.closeFields(facts)
        json.endObject()
        json.bool("open", diagnosis == nil)
        if let diagnosis {
            json.beginObject("diagnosis")
            json.diagnosisFields(diagnosis, redaction)
            json.string("severity", diagnosis.severity.rawValue)
            json.endObject()
        } else {
            json.raw("diagnosis", "null")
        }
        json.number("violations", facts.violations.count + facts.violationsNotKept)
        json.number("messages_not_kept", timelineEntriesNotKept)
        json.endObject()
        json.endObject()
        return json.output
    }

    private func request(_ facts: ConnectionFacts, into json: inout JSONWriter) {
        let handshake = facts.handshake
        let target = redaction.target(handshake?.target ?? "/")
        json.beginObject("request")
        json.string("method", handshake?.method ?? "GET")
        let isAbsolute = target.hasPrefix("ws://") || target.hasPrefix("wss://") || target.hasPrefix("http")
        json.string("url", isAbsolute ? target : "ws://\(handshake?.host ?? facts.server.description)\(target)")
        json.string("httpVersion", "HTTP/1.1")
        json.beginArray("cookies")
        json.endArray()
        headers(handshake?.requestHeaders, into: &json)
        json.beginArray("queryString")
        if let question = target.firstIndex(of: "?") {
            for part in target[target.index(after: question)...].split(separator: "&") {
                let pair = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                json.beginObject()
                json.string("name", String(pair[0]))
                json.string("value", pair.count > 1 ? String(pair[1]) : "")
                json.endObject()
            }
        }
        json.endArray()
        json.number("headersSize", -1)
        json.number("bodySize", 0)
        json.endObject()
    }

    private func response(_ handshake: HandshakeFacts?, into json: inout JSONWriter) {
        json.beginObject("response")
        // HAR has no "no answer": status 0, as browsers export a request that got none.
        json.number("status", handshake?.status ?? 0)
        json.string("statusText", handshake?.reason ?? "")
        json.string("httpVersion", "HTTP/1.1")
        json.beginArray("cookies")
        json.endArray()
        headers(handshake?.responseHeaders, into: &json)
        json.beginObject("content")
        json.number("size", 0)
        json.string("mimeType", "x-unknown")
        json.endObject()
        json.string("redirectURL", "")
        json.number("headersSize", -1)
        json.number("bodySize", 0)
        json.endObject()
    }

    private func headers(_ headers: HTTPHeaders?, into json: inout JSONWriter) {
        json.beginArray("headers")
        for (name, value) in headers ?? HTTPHeaders() {
            json.beginObject()
            json.string("name", name)
            json.string("value", redaction.header(name: name, value: value))
            json.endObject()
        }
        json.endArray()
    }

    private func message(_ item: TimelineEntry, into json: inout JSONWriter) {
        let side: Side, opcode: Opcode, data: String
        switch item.event {
        case .message(let message):
            (side, opcode) = (message.side, message.opcode)
            data = message.wireSize == 0 ? "" : Redaction.placeholder
        case .ping(let control), .pong(let control):
            if case .ping = item.event { opcode = .ping } else { opcode = .pong }
            side = control.side
            data = control.payload.isEmpty ? "" : redaction.showSecrets ? String(decoding: control.payload, as: UTF8.self) : Redaction.placeholder
        case .close(let close):
            (side, opcode, data) = (close.side, .close, close.reason)
        case .request, .response, .handshake, .resynchronised, .frame, .violation, .notice, .stopped, .tally:
            return
        }
        json.beginObject()
        // DevTools' point of view is the client's.
        json.string("type", side == .client ? "send" : "receive")
        json.number("time", Double(item.at.nanoseconds) / 1e9)
        json.number("opcode", Int(opcode.rawValue))
        json.string("data", data)
        json.endObject()
    }
}
