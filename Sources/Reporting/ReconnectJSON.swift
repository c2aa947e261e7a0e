import Diagnosis
import WebSocketWire

/// One JSON object per reconnect episode (`"type": "reconnects"`); the schema is in the README.
public struct ReconnectJSON: Sendable {
    private let redaction: Redaction

    public init(redaction: Redaction) { self.redaction = redaction }

    /// - Parameter capture: the file the episode came from, when replaying.
    public func render(_ facts: ReconnectFacts, diagnosis: ConnectionDiagnosis, closedAt: Timestamp, capture: String? = nil) -> String {
        var json = JSONWriter()
        json.beginObject()
        json.string("type", "reconnects")
        if let capture { json.string("capture", capture) }
        json.string("client", facts.client)
        json.string("path", facts.path)
        json.number("after_code", facts.afterCode)
        json.number("after_status", facts.afterStatus)
        json.string("closed", closedAt.iso8601)
        json.number("attempts", facts.attempts)
        json.beginArray("delays")
        for delay in facts.delays { json.number(nil, (delay * 1000).rounded() / 1000) }
        json.endArray()
        json.number("growth", facts.growth)
        json.number("jitter", facts.jitter)
        json.string("outcome", facts.outcome.rawValue)
        json.bool("same_token", facts.sameToken)
        json.number("back_together", facts.backTogether)
        json.beginObject("diagnosis")
        json.diagnosisFields(diagnosis, redaction)
        json.endObject()
        json.endObject()
        return json.output
    }
}
