import Diagnosis
import WebSocketWire

/// The human-readable report of one connection.
public struct ConnectionText: Sendable {
    public var redaction: Redaction

    public init(redaction: Redaction = Redaction()) {
        self.redaction = redaction
    }

    public func render(_ facts: ConnectionFacts, diagnosis: ConnectionDiagnosis? = nil, timeline: [TimelineEntry]? = nil,
                       timelineNotKept: Int = 0, timelineGap: Int? = nil) -> String {
        var lines: [String] = []
        let duration = facts.closed.map { " (" + formatDuration($0.seconds(since: facts.opened)) + ")" } ?? ""
        lines.append("#\(facts.id + 1)  \(facts.client) → \(facts.server)  \(facts.opened.iso8601)\(duration)")
        lines.append(contentsOf: handshakeLines(facts))
        if facts.carriesWebSocket {
            lines.append(field("traffic", "client→server " + traffic(facts.fromClient) + ";  server→client " + traffic(facts.fromServer)))
            let pings = Side.allCases.compactMap { side -> String? in
                let d = facts.direction(from: side)
                guard d.pings > 0 else { return nil }
                return "\(side) sent \(d.pings) ping\(d.pings == 1 ? "" : "s"), \(d.pingsAnswered) answered"
            }
            if !pings.isEmpty { lines.append(field("pings", pings.joined(separator: "; "))) }
        }
        for violation in facts.violations {
            let frame = violation.frameIndex.map { " frame \($0)" } ?? ""
            lines.append(field("violation", "\(violation.side)\(frame) at byte \(violation.streamOffset): \(violation.kind.rawValue) (\(violation.rfc)) — \(violation.detail)"))
        }
        if facts.violationsNotKept > 0 {
            lines.append(field("violation", "… and \(facts.violationsNotKept) more not kept"))
        }
        for notice in facts.notices {
            lines.append(field("note", "\(notice.side) at byte \(notice.offset): \(notice.detail)"))
        }
        for stop in facts.undecodable {
            lines.append(field("undecoded", "\(stop.side) from byte \(stop.offset): \(stop.reason)"))
        }
        if facts.carriesWebSocket || facts.handshake != nil {
            lines.append(field("close", closeSummary(facts)))
        }
        for fault in facts.faults {
            lines.append(field("fault", "wsdoctor's own (not a peer's): \(fault.id) (\(fault.action)) at +\(formatDuration(fault.at.seconds(since: facts.opened))): \(fault.done)"))
        }
        lines.append(field("tcp", transportSummary(facts)))
        if facts.incomplete {
            lines.append(field("capture", incompleteSummary(facts)))
        }
        if let diagnosis { lines.append(contentsOf: diagnosisLines(diagnosis)) }
        if let timeline {
            // The note stands where the entries not kept were: between the first and the latest.
            let gap = min(timelineGap ?? timeline.count, timeline.count)
            lines.append(contentsOf: timeline[..<gap].compactMap { timelineLine($0, since: facts.opened) })
            if timelineNotKept > 0 {
                lines.append(gap < timeline.count ? "    … \(timelineNotKept) events here not kept" : "    … \(timelineNotKept) more events not kept")
            }
            lines.append(contentsOf: timeline[gap...].compactMap { timelineLine($0, since: facts.opened) })
        }
        return lines.joined(separator: "\n")
    }

    /// Diagnosis, evidence, fix and rule lines, as connections and compared pairs show them.
    public func diagnosisLines(_ diagnosis: ConnectionDiagnosis) -> [String] {
        var lines = [field("diagnosis", "\(diagnosis.category): \(diagnosis.summary)")]
        if !diagnosis.evidence.isEmpty {
            let evidence = diagnosis.evidence.map { "\($0.fact) = \(redactedEvidence($0))" }.joined(separator: "; ")
            lines.append(field("evidence", evidence))
        }
        lines.append(field("fix", diagnosis.fix))
        let references = diagnosis.references.isEmpty ? "" : "; see " + diagnosis.references.joined(separator: ", ")
        lines.append(field("rule", "\(diagnosis.id) (\(diagnosis.origin))\(references)"))
        return lines
    }

    /// Facts the rules list as user text are quoted when shown, and hidden unless --show-secrets.
    private func redactedEvidence(_ evidence: ConnectionDiagnosis.Evidence) -> String {
        guard evidence.redacted else { return evidence.value.description }
        return redaction.showSecrets ? "\"\(evidence.value.description)\"" : Redaction.placeholder
    }

    private func field(_ name: String, _ value: String) -> String {
        "    " + name.padding(to: 10) + " " + value
    }

    private func handshakeLines(_ facts: ConnectionFacts) -> [String] {
        guard let handshake = facts.handshake else {
            return facts.joinedMidStream ? [field("handshake", "not captured (joined mid-connection)")] : []
        }
        var parts = ["\(handshake.method) \(redaction.target(handshake.target))"]
        if let status = handshake.status {
            parts.append("→ \(status)\(handshake.reason.map { $0.isEmpty ? "" : " " + $0 } ?? "")")
        } else {
            parts.append("→ no answer")
        }
        if let subprotocol = handshake.subprotocol { parts.append("subprotocol \(redaction.subprotocols(subprotocol))") }
        if !handshake.extensions.isEmpty { parts.append("extensions " + handshake.extensions.joined(separator: ", ")) }
        if let retry = handshake.retryAfter { parts.append("Retry-After \(retry)") }
        var lines = [field("handshake", parts.joined(separator: "  "))]
        if facts.httpRequestsBeforeUpgrade > 0 {
            lines.append(field("http", "\(facts.httpRequestsBeforeUpgrade) plain HTTP request\(facts.httpRequestsBeforeUpgrade == 1 ? "" : "s") before the upgrade"))
        }
        return lines
    }

    private func traffic(_ d: DirectionFacts) -> String {
        var kinds: [String] = []
        if d.textMessages > 0 { kinds.append("\(d.textMessages) text") }
        if d.binaryMessages > 0 { kinds.append("\(d.binaryMessages) binary") }
        let detail = kinds.isEmpty ? "" : " (" + kinds.joined(separator: ", ") + ")"
        return "\(d.messages) message\(d.messages == 1 ? "" : "s")\(detail), \(d.frames) frame\(d.frames == 1 ? "" : "s"), \(formatBytes(d.bytes))"
    }

    private func closeSummary(_ facts: ConnectionFacts) -> String {
        if let handshake = facts.handshake, !facts.carriesWebSocket {
            guard let status = handshake.status else { return "the server never answered the upgrade request" }
            return "upgrade refused with HTTP \(status); no WebSocket frames were exchanged"
        }
        if facts.closeStartedByWsdoctor { return injectedCloseSummary(facts) }
        guard let initiator = facts.closeInitiator, let first = facts.firstClose else {
            return "no close frame from either side"
        }
        var text = "\(initiator) sent \(describe(first))"
        if let echo = facts.echoClose {
            text += "; \(initiator.peer) answered \(echo.code.map { String($0) } ?? "with an empty close")"
            text += " after " + formatDuration(echo.at.seconds(since: first.at))
        } else {
            text += "; \(initiator.peer) never answered it"
        }
        return text
    }

    /// wsdoctor's own close frame (a fault) and each side's answer to it.
    private func injectedCloseSummary(_ facts: ConnectionFacts) -> String {
        let sent = facts.injectedCloses
        guard let first = sent.first else { return "no close frame from either side" }
        let sides = sent.map(\.toward.rawValue).joined(separator: " and the ")
        let own = CloseFacts(code: first.code, reason: first.reason, at: first.at, frameIndex: 0, offset: 0)
        var text = "wsdoctor sent \(describe(own)) to the \(sides) (fault \(first.faultID), not a peer's close)"
        for frame in sent {
            if let answer = facts.answerToInjectedClose(from: frame.toward) {
                text += "; the \(frame.toward) answered \(answer.code.map { String($0) } ?? "with an empty close")"
                text += " after " + formatDuration(answer.at.seconds(since: frame.at))
            } else {
                text += "; the \(frame.toward) never answered it"
            }
        }
        return text
    }

    private func describe(_ close: CloseFacts) -> String {
        guard let code = close.code else { return "an empty close frame (no status code: 1005)" }
        let reason = close.reason.isEmpty ? "" : " \"\(close.reason)\""
        return "\(code) \(CloseCode.name(of: code))\(reason)"
    }

    private func transportSummary(_ facts: ConnectionFacts) -> String {
        let t = facts.transport
        var parts: [String] = []
        if let side = t.resetBy { parts.append("RST from \(side)") }
        switch (t.clientFinAt, t.serverFinAt) {
        case (let c?, let s?): parts.append(c <= s ? "FIN from client, then server" : "FIN from server, then client")
        case (.some, nil): parts.append("FIN from client only")
        case (nil, .some): parts.append("FIN from server only")
        case (nil, nil): break
        }
        if let close = facts.proxyClose {
            parts.append("closed by wsdoctor (\(close.reason.rawValue)): the client got \(close.sentToClient), the server \(close.sentToServer)")
        } else if t.captureEndedOpen {
            parts.append("still open when the capture ended")
        }
        return parts.isEmpty ? "no end seen" : parts.joined(separator: "; ")
    }

    private func incompleteSummary(_ facts: ConnectionFacts) -> String {
        var parts: [String] = []
        if !facts.sawTCPOpen { parts.append("began before the capture") }
        if facts.missingClientBytes > 0 { parts.append("\(facts.missingClientBytes) client bytes missing") }
        if facts.missingServerBytes > 0 { parts.append("\(facts.missingServerBytes) server bytes missing") }
        if facts.sidesGuessed { parts.append("client and server guessed from port numbers") }
        return "incomplete: " + parts.joined(separator: ", ")
    }

    /// One line for a timeline entry (frames, requests, closes, violations), or nil for
    /// entries that the connection block already summarises.
    public func timelineLine(_ entry: TimelineEntry, since start: Timestamp) -> String? {
        let time = "      " + formatSignedSeconds(entry.at.seconds(since: start))
        switch entry.event {
        case .frame(let f):
            let arrow = f.side == .client ? "c→s" : "s→c"
            var flags: [String] = []
            if !f.fin { flags.append("FIN=0") }
            if f.reservedBits != 0 { flags.append("RSV=\(String(f.reservedBits, radix: 2))") }
            if f.masked { flags.append("masked") }
            return "\(time) \(arrow) frame \(f.index) \(f.opcode) \(f.payloadLength) B" + (flags.isEmpty ? "" : " " + flags.joined(separator: " "))
        case .request(let head, _):
            return "\(time) c→s \(head.method) \(redaction.target(head.target)) \(head.version)"
        case .response(let head, _):
            return "\(time) s→c \(head.status) \(head.reason)"
        case .violation(let v):
            return "\(time) \(v.side == .client ? "c→s" : "s→c") ! \(v.kind.rawValue): \(v.detail)"
        case .resynchronised(let side, let skipped, _):
            return "\(time) \(side == .client ? "c→s" : "s→c") frames found after skipping \(skipped) bytes"
        case .close(let close):
            let code = close.code.map { "\($0) \(CloseCode.name(of: $0))" } ?? "no status code"
            return "\(time) \(close.side == .client ? "c→s" : "s→c")   close \(code)" + (close.reason.isEmpty ? "" : " \"\(close.reason)\"")
        case .message, .ping, .pong, .handshake, .notice, .stopped, .tally:
            return nil
        }
    }
}

extension String {
    package func padding(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
