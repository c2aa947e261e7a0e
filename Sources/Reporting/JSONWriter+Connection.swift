import Diagnosis
import WebSocketWire

/// Objects that more than one JSON output carries (JSON lines, HAR's `_wsdoctor`).
extension JSONWriter {
    /// The close: who started it, both close frames and how TCP ended.
    mutating func closeFields(_ facts: ConnectionFacts) {
        string("initiator", facts.closeInitiator?.rawValue ?? "none")
        number("code", facts.firstClose?.code)
        string("code_name", facts.firstClose?.code.map { CloseCode.name(of: $0) })
        string("reason", facts.firstClose?.reason)
        number("echo_code", facts.echoClose?.code)
        string("echo_reason", facts.echoClose?.reason)
        bool("handshake_complete", facts.closeHandshakeComplete)
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
