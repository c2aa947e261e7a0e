import Diagnosis
import WebSocketWire

/// Objects that more than one JSON output carries (JSON lines, HAR's `_wsdoctor`).
extension JSONWriter {
    /// The close: who started it, both close frames and how TCP ended. When wsdoctor's own
    /// close frame (a fault) started it, the initiator is `wsdoctor` and the echo is the
    /// first answer of a side it was sent to (the client's, when it went to both).
    mutating func closeFields(_ facts: ConnectionFacts) {
        if facts.closeStartedByWsdoctor, let own = facts.injectedCloses.first {
            let answered = facts.injectedCloses.compactMap { sent in facts.answerToInjectedClose(from: sent.toward).map { (sent.toward, $0) } }
            let echo = answered.first { $0.0 == .client } ?? answered.first
            string("initiator", "wsdoctor")
            number("code", own.code)
            string("code_name", CloseCode.name(of: own.code))
            string("reason", own.reason)
            number("echo_code", echo?.1.code)
            string("echo_reason", echo?.1.reason)
            string("echo_by", echo?.0.rawValue)
            bool("handshake_complete", answered.count == facts.injectedCloses.count)
        } else {
            string("initiator", facts.closeInitiator?.rawValue ?? "none")
            number("code", facts.firstClose?.code)
            string("code_name", facts.firstClose?.code.map { CloseCode.name(of: $0) })
            string("reason", facts.firstClose?.reason)
            number("echo_code", facts.echoClose?.code)
            string("echo_reason", facts.echoClose?.reason)
            string("echo_by", facts.echoClose == nil ? nil : facts.closeInitiator?.peer.rawValue)
            bool("handshake_complete", facts.closeHandshakeComplete)
        }
        string("transport", facts.transport.end?.rawValue)
        string("transport_first_by", facts.transport.firstEndBy?.rawValue)
    }

    /// The diagnosis: rule, texts, evidence (redacted as `redaction` says) and where the rule came from.
    mutating func diagnosisFields(_ diagnosis: ConnectionDiagnosis, _ redaction: Redaction) {
        string("id", diagnosis.id)
        string("category", diagnosis.category)
        string("summary", diagnosis.summary)
        string("explanation", diagnosis.explanation)
        string("fix", diagnosis.fix)
        beginObject("evidence")
        for item in diagnosis.evidence { value(item.fact, redaction.evidence(item)) }
        endObject()
        beginArray("references")
        for reference in diagnosis.references { string(nil, reference) }
        endArray()
        string("rule_source", diagnosis.origin.description)
    }

    /// One violation: side, kind, RFC section, frame index and stream offset.
    mutating func violation(_ violation: Violation) {
        beginObject()
        string("side", violation.side.rawValue)
        string("kind", violation.kind.rawValue)
        string("rfc", violation.rfc)
        number("frame", violation.frameIndex)
        number("offset", violation.streamOffset)
        string("detail", violation.detail)
        endObject()
    }

    /// One decoder notice: what could not be fully checked.
    mutating func notice(_ notice: DecoderNotice) {
        beginObject()
        string("side", notice.side.rawValue)
        string("kind", notice.kind.rawValue)
        number("offset", notice.offset)
        string("detail", notice.detail)
        endObject()
    }
}
