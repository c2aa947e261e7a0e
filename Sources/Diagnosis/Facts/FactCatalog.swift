import WebSocketWire

/// One fact rules can name: its type, what it means, and how it is computed.
public struct FactDefinition: Sendable {
    public let name: String
    public let type: FactType
    public let meaning: String
    let compute: @Sendable (FactContext) -> FactValue?
}

/// Every fact a rule condition or summary can name. Rules/README.md documents this list;
/// a test keeps the two in step.
public enum FactCatalog {
    public static let all: [FactDefinition] = connection + analysis + handshake + close + ending + tcp + violations + traffic + pings + token + proxy + correlation + pair + reconnect

    public static let byName: [String: FactDefinition] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    /// All facts of a connection that have a value.
    public static func values(for context: FactContext) -> [String: FactValue] {
        var values: [String: FactValue] = [:]
        for definition in context.reconnect == nil ? all : reconnect {
            if let value = definition.compute(context) { values[definition.name] = value }
        }
        return values
    }

    // MARK: Groups

    static let connection: [FactDefinition] = [
        fact("connection.websocket", .bool, "frames were exchanged (the upgrade succeeded, or frames were found mid-stream)") { .bool($0.facts.carriesWebSocket) },
        fact("connection.incomplete", .bool, "bytes were lost, or the connection began before the capture") { .bool($0.facts.incomplete) },
        fact("connection.joined_mid_stream", .bool, "frames were found without the handshake (capture started late)") { .bool($0.facts.joinedMidStream) },
        fact("connection.age", .number, "seconds from the connection's first packet to when it started to end (first close frame, else TCP end)") { context in
            context.endTime.map { .number($0.seconds(since: context.facts.opened)) }
        },
    ]

    static let analysis: [FactDefinition] = [
        // A frame cut short by the end of the stream was read to its last byte: it does not count.
        fact("analysis.complete", .bool, "wsdoctor decoded both directions to their end (it gave up on neither)") { c in
            .bool(c.facts.undecodable.isEmpty)
        },
        fact("analysis.not_analysed", .string, "the first thing wsdoctor could not analyse: which stream, from which byte, and why") { c in
            notAnalysed(c).map { .string($0.what) }
        },
        fact("analysis.not_analysed_side", .string, "the side whose stream that was") { c in notAnalysed(c).map { .string($0.side.rawValue) } },
    ]

    static let handshake: [FactDefinition] = [
        fact("handshake.seen", .bool, "an upgrade request was captured") { .bool($0.facts.handshake != nil) },
        fact("handshake.answered", .bool, "the server answered the upgrade request") { c in c.facts.handshake.map { .bool($0.status != nil) } },
        fact("handshake.status", .int, "HTTP status of the answer to the upgrade (101 when it succeeded)") { c in c.facts.handshake?.status.map { .int(Int64($0)) } },
        fact("handshake.upgraded", .bool, "the server switched to WebSocket") { c in c.facts.handshake.map { .bool($0.upgraded) } },
        fact("handshake.path", .string, "request path, without the query string") { c in c.facts.handshake.map { .string($0.path) } },
        fact("handshake.subprotocol", .string, "subprotocol the server selected") { c in c.facts.handshake?.subprotocol.map { .string($0) } },
        fact("handshake.extensions", .list, "extensions the server accepted (names)") { c in
            c.facts.handshake.map { .list($0.extensions.map { String($0.prefix { $0 != ";" }) }) }
        },
        fact("handshake.deflate", .bool, "permessage-deflate was negotiated") { c in c.facts.handshake.map { .bool($0.deflate != nil) } },
        fact("handshake.request_read", .bool, "the upgrade request head was read (false: it was over --max-head-size and skipped)") { c in
            c.facts.handshake.map { .bool($0.requestHeadRead) }
        },
        fact("handshake.deflate_offered", .bool, "the upgrade request offered permessage-deflate (absent when the request was not read)") { c in
            c.facts.handshake.flatMap { handshake in
                guard handshake.requestHeadRead else { return nil }
                return .bool(ExtensionHeader.parse(handshake.requestHeaders.values("Sec-WebSocket-Extensions")).contains { $0.name.lowercased() == "permessage-deflate" })
            }
        },
        fact("handshake.retry_after", .string, "Retry-After header of a refusal, as sent") { c in c.facts.handshake?.retryAfter.map { .string($0) } },
        fact("handshake.retry_after_seconds", .number, "Retry-After as a number of seconds, when it is one") { c in
            c.facts.handshake?.retryAfter.flatMap { Double($0.trimming(" ")) }.map { .number($0) }
        },
        fact("handshake.issues", .list, "handshake rules broken (violation kinds), e.g. accept-mismatch") { c in
            .list(c.facts.violations.filter { $0.frameIndex == nil }.map(\.kind.rawValue))
        },
    ]

    static let close: [FactDefinition] = [
        fact("close.initiator", .string, "side that sent the first close frame: client, server, wsdoctor (a fault's close, which the peers' close frames answer) or none") { c in
            .string(c.closer?.rawValue ?? (c.facts.closeStartedByWsdoctor ? "wsdoctor" : "none"))
        },
        fact("close.receiver", .string, "the other side (the one the close answers): client, server or none") { .string($0.peer?.rawValue ?? "none") },
        fact("close.code", .int, "status code of the first close frame (absent when it had no payload or there was none)") { c in
            c.facts.firstClose?.code.map { .int(Int64($0)) }
        },
        fact("close.code_name", .string, "registered name of close.code") { c in c.facts.firstClose?.code.map { .string(CloseCode.name(of: $0)) } },
        fact("close.reason", .string, "reason text of the first close frame") { c in c.facts.firstClose.map { .string($0.reason) } },
        fact("close.empty", .bool, "the first close frame had no payload (endpoints report it as 1005)") { c in c.facts.firstClose.map { .bool($0.code == nil) } },
        fact("close.echoed", .bool, "the other side answered with its own close frame") { c in c.facts.firstClose.map { _ in .bool(c.facts.echoClose != nil) } },
        fact("close.echo_code", .int, "status code of the answering close frame") { c in c.facts.echoClose?.code.map { .int(Int64($0)) } },
        fact("close.echo_reason", .string, "reason text of the answering close frame") { c in c.facts.echoClose.map { .string($0.reason) } },
        fact("close.echo_is_error", .bool, "the answering close frame is 1002 or 1007: the close.receiver refused something the closer sent, not an echo") { c in
            c.facts.echoClose.map { .bool($0.code == 1002 || $0.code == 1007) }
        },
        fact("close.echo_delay", .number, "seconds between the close frame and its answer") { c in
            guard let first = c.facts.firstClose, let echo = c.facts.echoClose else { return nil }
            return .number(echo.at.seconds(since: first.at))
        },
        fact("close.handshake_complete", .bool, "both sides sent a close frame") { .bool($0.facts.closeHandshakeComplete) },
        fact("close.idle_before", .number, "seconds between the last data message (either side) and the first close frame") { c in
            guard let close = c.facts.firstClose else { return nil }
            let last = [c.facts.clientLastMessageBeforeClose?.at, c.facts.serverLastMessageBeforeClose?.at].compactMap { $0 }.max()
            return last.map { .number(close.at.seconds(since: $0)) }
        },
    ]

    /// The ending read as a sequence: was the first close frame itself legal, what came after it.
    static let ending: [FactDefinition] = [
        fact("close.valid", .bool, "the first close frame broke no rule itself (code allowed on the wire, payload not 1 byte, at most 125 bytes, UTF-8 reason, FIN set, no reserved bits)") { c in
            c.facts.firstClose.map { _ in .bool(c.facts.firstCloseViolations.isEmpty) }
        },
        fact("close.violation_kinds", .list, "kinds of the first close frame's own violations") { c in
            c.facts.firstClose.map { _ in .list(unique(c.facts.firstCloseViolations.map(\.kind.rawValue))) }
        },
    ] + violationFacts("close.violation", "the first close frame's first violation") { $0.facts.firstCloseViolations.first } + [
        fact("closer.frames_after_close", .int, "frames close.initiator sent after its own close frame (RFC 6455 §5.5.1 forbids any)") { c in
            c.closer.map { .int(Int64(c.facts.framesAfterClose(by: $0).count)) }
        },
        fact("closer.frame_after_close.frame", .int, "the first of them: frame index in close.initiator's stream") { c in
            c.closer.flatMap { c.facts.framesAfterClose(by: $0).first?.frameIndex }.map { .int(Int64($0)) }
        },
        fact("closer.frame_after_close.offset", .int, "the first of them: byte offset in close.initiator's stream") { c in
            c.closer.flatMap { c.facts.framesAfterClose(by: $0).first }.map { .int($0.streamOffset) }
        },
        fact("closer.frame_after_close.detail", .string, "the first of them: what it was") { c in
            c.closer.flatMap { c.facts.framesAfterClose(by: $0).first }.map { .string($0.detail) }
        },
        fact("peer.frames_after_close", .int, "frames close.receiver sent after its own answering close frame") { c in
            c.peer.map { .int(Int64(c.facts.framesAfterClose(by: $0).count)) }
        },
        fact("closer.violations_before_answer", .int, "violations close.initiator committed in frames before or after its close frame (not in it) until the answering close came") { c in
            c.closer.map { _ in .int(Int64(c.facts.closerViolationsBeforeAnswer.count)) }
        },
    ] + violationFacts("closer.violation", "close.initiator's first of those violations") { $0.facts.closerViolationsBeforeAnswer.first } + [
        fact("peer.violations_before_close", .int, "violations close.receiver committed before the first close frame arrived (what the closer may be answering)") { c in
            c.peer.map { .int(Int64(c.facts.violationsBeforeClose(by: $0).count)) }
        },
        fact("tcp.closer_end", .string, "how close.initiator ended TCP: fin, rst or none") { c in
            c.closer.map { .string(c.facts.tcpEnd(by: $0)?.rawValue ?? "none") }
        },
        fact("tcp.receiver_end", .string, "how close.receiver ended TCP: fin, rst or none") { c in
            c.peer.map { .string(c.facts.tcpEnd(by: $0)?.rawValue ?? "none") }
        },
    ]

    static let tcp: [FactDefinition] = [
        fact("tcp.end", .string, "how TCP ended: fin, rst or capture-end (still open when the capture stopped)") { c in c.facts.transport.end.map { .string($0.rawValue) } },
        fact("tcp.first_end_by", .string, "side whose FIN or RST came first (none at capture end)") { c in
            c.facts.transport.firstEnd.map { _ in .string(c.facts.transport.firstEndBy?.rawValue ?? "none") }
        },
        fact("tcp.first_end", .string, "the first way TCP started to end: fin, rst or capture-end") { c in c.facts.transport.firstEnd.map { .string($0.rawValue) } },
        fact("tcp.reset_by", .string, "side that sent a RST") { c in c.facts.transport.resetBy.map { .string($0.rawValue) } },
        fact("tcp.idle_before_end", .number, "seconds without a byte either way before TCP started to end") { c in c.facts.transport.idleBeforeEnd.map { .number($0) } },
    ]

    static let violations: [FactDefinition] = [
        fact("violations.count", .int, "protocol violations seen, both sides") { .int(Int64($0.facts.violations.count + $0.facts.violationsNotKept)) },
        fact("violations.kinds", .list, "kinds of the violations seen, both sides") { c in .list(unique(c.facts.violations.map(\.kind.rawValue))) },
        fact("client.violations", .int, "violations committed by the client") { .int(Int64($0.facts.violations(by: .client).count)) },
        fact("server.violations", .int, "violations committed by the server") { .int(Int64($0.facts.violations(by: .server).count)) },
        fact("peer.violations", .int, "violations committed by close.receiver (the side the closer may be answering)") { c in
            c.peer.map { .int(Int64(c.facts.violations(by: $0).count)) }
        },
        fact("peer.violation_kinds", .list, "kinds of close.receiver's violations") { c in c.peer.map { .list(unique(c.facts.violations(by: $0).map(\.kind.rawValue))) } },
    ] + violationFacts("peer.violation", "close.receiver's first violation") { firstViolation($0) } + [
        fact("closer.violations", .int, "violations committed by close.initiator") { c in c.closer.map { .int(Int64(c.facts.violations(by: $0).count)) } },
        fact("peer.invalid_utf8", .bool, "close.receiver sent a text message that is not UTF-8") { c in
            c.peer.map { side in .bool(c.facts.violations(by: side).contains { $0.kind == .textNotUTF8 }) }
        },
        fact("peer.invalid_utf8.frame", .int, "frame index of close.receiver's first non-UTF-8 text") { c in invalidUTF8(c)?.frameIndex.map { .int(Int64($0)) } },
        fact("peer.invalid_utf8.offset", .int, "stream offset of the first bad byte") { c in invalidUTF8(c).map { .int($0.streamOffset) } },
        fact("peer.invalid_utf8.detail", .string, "message index and byte offset inside the message of the first bad byte") { c in invalidUTF8(c).map { .string($0.detail) } },
        fact("rsv1_without_extension", .bool, "a side set RSV1 though no extension was negotiated") { c in
            .bool(c.facts.violations.contains { $0.kind == .rsv1WithoutExtension })
        },
        fact("rsv1_without_extension.side", .string, "the side that sent RSV1 without an extension") { c in
            c.facts.violations.first { $0.kind == .rsv1WithoutExtension }.map { .string($0.side.rawValue) }
        },
        fact("rsv1_without_extension.inflates", .bool, "that side's RSV1 messages inflate as permessage-deflate: it compresses as if the extension had been agreed") { c in
            c.facts.violations.first { $0.kind == .rsv1WithoutExtension }.map { violation in
                .bool((violation.side == .client ? c.facts.clientInflatedWithoutExtension : c.facts.serverInflatedWithoutExtension) > 0)
            }
        },
    ]

    static let traffic: [FactDefinition] = Side.allCases.flatMap { side in [
        fact("\(side).messages", .int, "data messages \(side) sent") { .int(Int64($0.facts.direction(from: side).messages)) },
        fact("\(side).bytes", .int, "TCP payload bytes \(side) sent (handshake and frames)") { .int($0.facts.direction(from: side).bytes) },
        fact("\(side).largest_message", .int, "largest message \(side) sent, in bytes after inflation") { .int($0.facts.direction(from: side).largestMessage) },
    ] } + [
        fact("peer.messages", .int, "data messages close.receiver sent") { c in c.peer.map { .int(Int64(c.facts.direction(from: $0).messages)) } },
        fact("peer.rate_before_close", .number, "close.receiver's messages per second in the second before the close") { c in
            c.peer.flatMap { c.rateBeforeClose(of: $0) }.map { .number($0) }
        },
        fact("peer.rate_earlier", .number, "close.receiver's messages per second from its first message until that second (absent when that is under 1 s)") { c in
            c.peer.flatMap { c.rateEarlier(of: $0) }.map { .number($0) }
        },
        fact("peer.rate_ratio", .number, "peer.rate_before_close divided by peer.rate_earlier") { c in
            guard let peer = c.peer, let before = c.rateBeforeClose(of: peer), let earlier = c.rateEarlier(of: peer) else { return nil }
            return .number(earlier > 0 ? before / earlier : (before > 0 ? 1_000 : 0))
        },
        fact("peer.largest_message", .int, "largest message close.receiver sent, in bytes after inflation") { c in c.peer.map { .int(c.facts.direction(from: $0).largestMessage) } },
        fact("peer.largest_frame", .int, "largest frame payload close.receiver sent (as declared in its header)") { c in
            c.peer.map { .int(Int64(clamping: c.facts.direction(from: $0).largestFrame)) }
        },
        fact("peer.last_message.index", .int, "index of close.receiver's last message before the close") { c in lastMessage(c).map { .int(Int64($0.index)) } },
        fact("peer.last_message.type", .string, "its type: text or binary") { c in lastMessage(c).map { .string($0.opcode.name) } },
        fact("peer.last_message.size", .int, "its size in bytes (after inflation)") { c in lastMessage(c).map { .int($0.size ?? $0.wireSize) } },
        fact("peer.last_message.before_close", .number, "seconds between it and the close frame") { c in
            guard let message = lastMessage(c), let close = c.facts.firstClose else { return nil }
            return .number(close.at.seconds(since: message.at))
        },
    ]

    static let pings: [FactDefinition] = Side.allCases.flatMap { side in [
        fact("\(side).pings", .int, "pings \(side) sent") { .int(Int64($0.facts.direction(from: side).pings)) },
        fact("\(side).pings_unanswered", .int, "pings \(side) sent that got no pong") { .int(Int64($0.facts.direction(from: side).unansweredPings)) },
    ] } + [
        fact("pings.unanswered", .int, "pings without a pong, both sides") { .int(Int64($0.facts.fromClient.unansweredPings + $0.facts.fromServer.unansweredPings)) },
        fact("pings.oldest_unanswered_age", .number, "seconds from the oldest unanswered ping to the end of the connection") { c in
            let oldest = [c.facts.fromClient.oldestUnansweredPingAt, c.facts.fromServer.oldestUnansweredPingAt].compactMap { $0 }.min()
            guard let oldest, let end = c.facts.closed ?? c.endTime else { return nil }
            return .number(end.seconds(since: oldest))
        },
    ]

    static let token: [FactDefinition] = [
        fact("jwt.found", .bool, "a JSON Web Token was found in the handshake (Authorization, query string, subprotocol or cookie)") { .bool($0.token != nil) },
        fact("jwt.source", .string, "where: authorization, query, subprotocol or cookie") { c in c.token.map { .string($0.source.rawValue) } },
        fact("jwt.expires_after", .number, "seconds from the connection's start to the token's exp (negative: expired before)") { c in
            c.token?.expires.map { .number($0.seconds(since: c.facts.opened)) }
        },
        fact("jwt.lifetime", .number, "seconds from the token's iat to its exp") { c in
            guard let expires = c.token?.expires, let issued = c.token?.issued else { return nil }
            return .number(expires.seconds(since: issued))
        },
        fact("jwt.end_after_expiry", .number, "seconds from the token's exp to the first close (or TCP end); near 0 means the close came as it expired") { c in
            guard let expires = c.token?.expires, let end = c.endTime else { return nil }
            return .number(end.seconds(since: expires))
        },
    ]

    static let proxy: [FactDefinition] = [
        fact("upstream.unreachable", .bool, "wsdoctor proxy could not connect to the upstream server for this client") { .bool($0.facts.upstreamError != nil) },
        fact("proxy.closed_connection", .bool, "wsdoctor proxy itself closed the connection (shutting down, or a limit of its own)") {
            .bool($0.facts.closedByProxy)
        },
        fact("proxy.close_reason", .string, "why wsdoctor proxy closed the connection itself: shutdown, head-timeout, upgrade-timeout, out-of-descriptors or fault") { c in
            c.facts.proxyClose.map { .string($0.reason.rawValue) }
        },
        fact("proxy.sent_to_client", .string, "what wsdoctor proxy sent the client when it closed the connection itself") { c in
            c.facts.proxyClose.map { .string($0.sentToClient) }
        },
        fact("proxy.sent_to_server", .string, "what wsdoctor proxy sent the server when it closed the connection itself") { c in
            c.facts.proxyClose.map { .string($0.sentToServer) }
        },
        fact("fault.injected", .bool, "wsdoctor proxy injected a fault into this connection on purpose (--faults, --control)") {
            .bool(!$0.facts.faults.isEmpty)
        },
        fact("fault.id", .string, "the injected fault's id (the one that ended the connection, else the first)") { c in
            c.facts.citedFault.map { .string($0.id) }
        },
        fact("fault.action", .string, "the injected fault's action: close, refuse, reset, drop-pings, drop-pongs, stall, latency, corrupt-utf8, set-rsv1 or strip-extensions") { c in
            c.facts.citedFault.map { .string($0.action) }
        },
        fact("fault.done", .string, "what wsdoctor did to the connection for that fault, in words") { c in
            c.facts.citedFault.map { .string($0.done) }
        },
        fact("fault.ended_connection", .bool, "the injected fault ended the connection (a close, a refusal or a reset by wsdoctor)") { c in
            c.facts.faults.isEmpty ? nil : .bool(c.facts.faults.contains(where: \.endedConnection))
        },
        fact("capture.tracking_expired", .bool, "wsdoctor sniff stopped following the connection after --idle-expiry without a packet either way") {
            .bool($0.facts.transport.trackingExpired)
        },
        fact("upstream.error", .string, "why the upstream connection failed (refused, timed out, name not resolved…)") { c in c.facts.upstreamError.map { .string($0) } },
    ]

    static let correlation: [FactDefinition] = [
        fact("wave.size", .int, "connections to the same server that ended with the same close code within wave.window up to this one, this one included") { .int(Int64($0.waveSize)) },
        fact("wave.window", .number, "seconds over which wave.size counts closes (the close_correlation_window setting)") { c in c.correlationWindow.map { .number($0) } },
    ]

    // MARK: Helpers


    private static func fact(_ name: String, _ type: FactType, _ meaning: String,
                             _ compute: @escaping @Sendable (FactContext) -> FactValue?) -> FactDefinition {
        FactDefinition(name: name, type: type, meaning: meaning, compute: compute)
    }

    /// kind, rfc, frame, offset and detail of one violation, under `prefix`.
    private static func violationFacts(_ prefix: String, _ what: String,
                                       _ pick: @escaping @Sendable (FactContext) -> Violation?) -> [FactDefinition] {
        [
            fact("\(prefix).kind", .string, "\(what): its kind") { c in pick(c).map { .string($0.kind.rawValue) } },
            fact("\(prefix).rfc", .string, "\(what): the RFC section") { c in pick(c).map { .string($0.rfc) } },
            fact("\(prefix).frame", .int, "\(what): frame index in its sender's stream") { c in pick(c)?.frameIndex.map { .int(Int64($0)) } },
            fact("\(prefix).offset", .int, "\(what): byte offset in its sender's stream") { c in pick(c).map { .int($0.streamOffset) } },
            fact("\(prefix).detail", .string, "\(what): what exactly was wrong") { c in pick(c).map { .string($0.detail) } },
        ]
    }

    private static func notAnalysed(_ context: FactContext) -> (side: Side, what: String)? {
        context.facts.undecodable.first.map { ($0.side, "the \($0.side)'s stream from byte \($0.offset): \($0.reason)") }
    }

    private static func unique(_ values: [String]) -> [String] {
        var seen = Set<String>()
        return values.filter { seen.insert($0).inserted }
    }

    private static func firstViolation(_ context: FactContext) -> Violation? {
        context.peer.flatMap { side in context.facts.violations.first { $0.side == side } }
    }

    private static func invalidUTF8(_ context: FactContext) -> Violation? {
        context.peer.flatMap { side in context.facts.violations.first { $0.side == side && $0.kind == .textNotUTF8 } }
    }

    private static func lastMessage(_ context: FactContext) -> MessageSummary? {
        context.peer.flatMap { context.facts.lastMessageBeforeClose(from: $0) }
    }
}

extension String {
    func trimming(_ character: Character) -> String {
        var text = Substring(self)
        while text.first == character { text = text.dropFirst() }
        while text.last == character { text = text.dropLast() }
        return String(text)
    }
}
