import Diagnosis
import WebSocketWire

/// One JSON object per connection (JSON Lines); the schema is documented in the README.
public struct ConnectionJSON: Sendable {
    public var redaction: Redaction

    public init(redaction: Redaction = Redaction()) {
        self.redaction = redaction
    }

    /// - Parameter capture: the file the connection came from, when replaying.
    public func render(_ facts: ConnectionFacts, diagnosis: ConnectionDiagnosis? = nil, capture: String? = nil) -> String {
        var json = JSONWriter()
        json.beginObject()
        json.string("type", "connection")
        if let capture { json.string("capture", capture) }
        json.number("id", facts.id + 1)
        json.string("client", facts.client.description)
        json.string("server", facts.server.description)
        json.string("opened", facts.opened.iso8601)
        json.string("closed", facts.closed?.iso8601)
        json.bool("incomplete", facts.incomplete)
        json.bool("joined_mid_stream", facts.joinedMidStream)
        if let handshake = facts.handshake {
            json.beginObject("handshake")
            json.string("path", redaction.target(handshake.target))
            json.number("status", handshake.status)
            json.string("subprotocol", handshake.subprotocol.map(redaction.subprotocols))
            json.beginArray("extensions")
            for name in handshake.extensions { json.string(nil, name) }
            json.endArray()
            json.string("retry_after", handshake.retryAfter)
            json.endObject()
        } else {
            json.string("handshake", nil)
        }
        json.number("http_requests_before_upgrade", facts.httpRequestsBeforeUpgrade)
        json.beginObject("close")
        json.closeFields(facts)
        json.endObject()
        json.beginObject("traffic")
        for side in Side.allCases {
            let d = facts.direction(from: side)
            json.beginObject(side.rawValue)
            json.number("frames", d.frames)
            json.number("messages", d.messages)
            json.number("text", d.textMessages)
            json.number("binary", d.binaryMessages)
            json.number("pings", d.pings)
            json.number("pongs", d.pongs)
            json.number("pings_answered", d.pingsAnswered)
            json.number("bytes", d.bytes)
            json.number("message_bytes", d.messageBytes)
            json.string("last_message", d.lastMessageAt?.iso8601)
            json.endObject()
        }
        json.endObject()
        json.beginArray("violations")
        for violation in facts.violations { json.violation(violation) }
        json.endArray()
        json.number("violations_not_kept", facts.violationsNotKept)
        json.beginArray("notices")
        for notice in facts.notices { json.notice(notice) }
        for stop in facts.undecodable {
            json.beginObject()
            json.string("side", stop.side.rawValue)
            json.string("kind", "undecodable")
            json.number("offset", stop.offset)
            json.string("detail", stop.reason)
            json.endObject()
        }
        json.endArray()
        if let fault = facts.citedFault {
            json.beginObject("fault")
            Self.write(fault, into: &json)
            if let close = facts.proxyClose, close.reason == .fault {
                json.string("sent_to_client", close.sentToClient)
                json.string("sent_to_server", close.sentToServer)
            }
            json.endObject()
            json.beginArray("faults")
            for fault in facts.faults {
                json.beginObject()
                Self.write(fault, into: &json)
                json.endObject()
            }
            json.endArray()
        }
        if let diagnosis { Self.write(diagnosis, into: &json, redaction: redaction) }
        json.endObject()
        return json.output
    }

    /// A fault wsdoctor injected: always marked as wsdoctor's own, never a peer's.
    private static func write(_ fault: InjectedFault, into json: inout JSONWriter) {
        json.string("id", fault.id)
        json.string("action", fault.action)
        json.string("by", "wsdoctor")
        json.string("done", fault.done)
        json.string("at", fault.at.iso8601)
        json.bool("ended_connection", fault.endedConnection)
    }

    /// The `diagnosis` object, as connections and compared pairs carry it.
    public static func write(_ diagnosis: ConnectionDiagnosis, into json: inout JSONWriter, redaction: Redaction) {
        json.beginObject("diagnosis")
        json.diagnosisFields(diagnosis, redaction)
        json.endObject()
    }
}
