import WebSocketWire

/// Everything the analyzer established about one connection: the evidence rules read.
///
/// Plain named values only; no judgement. Times are capture (or wall-clock) timestamps.
public struct ConnectionFacts: Sendable {
    /// Position of the connection in the order connections opened (0-based).
    public var id: Int
    public var client: Endpoint
    public var server: Endpoint
    /// When the first packet (or SYN) of the connection was seen.
    public var opened: Timestamp
    /// When the connection ended (FIN from both, RST, or end of capture); nil while open.
    public var closed: Timestamp?
    /// Whether the TCP opening handshake (SYN) was seen.
    public var sawTCPOpen: Bool
    /// Whether client and server were told apart by a guess (no SYN, no --ws-port).
    public var sidesGuessed: Bool

    public var handshake: HandshakeFacts?
    /// Plain HTTP requests answered on this connection before any upgrade.
    public var httpRequestsBeforeUpgrade: Int = 0
    /// Whether frames were decoded (after a 101, or by resynchronising mid-stream).
    public var carriesWebSocket: Bool = false
    /// Frames were found without seeing the handshake (capture began mid-connection).
    public var joinedMidStream: Bool = false

    public var fromClient = DirectionFacts()
    public var fromServer = DirectionFacts()

    /// The first close frame each side sent.
    public var clientClose: CloseFacts?
    public var serverClose: CloseFacts?
    /// Each side's last data message before the first close frame of the connection
    /// (what the closing side had received when it decided to close).
    public var clientLastMessageBeforeClose: MessageSummary?
    public var serverLastMessageBeforeClose: MessageSummary?

    /// How TCP ended, and the first side to end it.
    public var transport: TransportFacts = TransportFacts()
    /// How many entries of `violations` were recorded before the first close frame was
    /// complete (what the closer could have been answering); nil while no close was seen.
    public var violationsBeforeFirstClose: Int?
    /// The same count when the answering close frame came; nil while none came.
    public var violationsBeforeAnswer: Int?
    /// Compressed messages each side sent without a negotiated extension that still
    /// inflated as permessage-deflate (evidence the sender believes it was agreed).
    public var clientInflatedWithoutExtension = 0
    public var serverInflatedWithoutExtension = 0

    /// Every violation seen, in order, up to the configured bound.
    public var violations: [Violation] = []
    /// Violations past the bound, counted but not kept.
    public var violationsNotKept: Int = 0
    public var notices: [DecoderNotice] = []
    /// Directions the decoder gave up on, with why.
    public var undecodable: [UndecodableDirection] = []
    /// wsdoctor proxy closed the connection itself (shutting down, or a limit of its own).
    public var closedByProxy = false
    /// Why wsdoctor proxy closed the connection itself, and what it sent each side.
    public var proxyClose: ProxyClose?
    /// Faults wsdoctor proxy injected, in the order they were first done (one per fault id).
    public var faults: [InjectedFault] = []
    /// Close frames wsdoctor proxy sent on its own behalf (a fault), at most one per side.
    public var injectedCloses: [InjectedCloseFrame] = []
    /// The fault the facts and the report cite: the one that ended the connection, else the first.
    public var citedFault: InjectedFault? { faults.first(where: \.endedConnection) ?? faults.first }
    /// Why a proxy could not reach the server for this client, when it could not.
    public var upstreamError: String?
    /// Bytes the capture lost, per side; a non-zero value makes the connection incomplete.
    public var missingClientBytes: Int64 = 0
    public var missingServerBytes: Int64 = 0

    public init(id: Int, client: Endpoint, server: Endpoint, opened: Timestamp, sawTCPOpen: Bool, sidesGuessed: Bool) {
        self.id = id
        self.client = client
        self.server = server
        self.opened = opened
        self.sawTCPOpen = sawTCPOpen
        self.sidesGuessed = sidesGuessed
    }

    public func direction(from side: Side) -> DirectionFacts {
        side == .client ? fromClient : fromServer
    }

    public func close(from side: Side) -> CloseFacts? {
        side == .client ? clientClose : serverClose
    }

    public func lastMessageBeforeClose(from side: Side) -> MessageSummary? {
        side == .client ? clientLastMessageBeforeClose : serverLastMessageBeforeClose
    }

    /// The side that sent the first close frame of its own (an answer to wsdoctor's close
    /// frame does not count: wsdoctor started that close).
    public var closeInitiator: Side? {
        let clientClose = clientClose.flatMap { answerToInjectedClose(from: .client) == nil ? $0 : nil }
        let serverClose = serverClose.flatMap { answerToInjectedClose(from: .server) == nil ? $0 : nil }
        switch (clientClose, serverClose) {
        case (nil, nil): return nil
        case (.some, nil): return .client
        case (nil, .some): return .server
        case (.some(let c), .some(let s)): return c.at <= s.at ? .client : .server
        }
    }

    /// `side`'s close frame when it answered the close frame wsdoctor sent it (nil: it sent
    /// none, or its own came first).
    public func answerToInjectedClose(from side: Side) -> CloseFacts? {
        guard let sent = injectedCloses.first(where: { $0.toward == side }), let close = close(from: side), close.at >= sent.at else { return nil }
        return close
    }

    /// Whether wsdoctor's own close frame (a fault) started the closing handshake: no peer
    /// sent a close frame of its own before it.
    public var closeStartedByWsdoctor: Bool {
        guard let first = injectedCloses.map(\.at).min() else { return false }
        guard let closer = closeInitiator, let own = close(from: closer) else { return true }
        return own.at >= first
    }

    /// The close frame that started the closing handshake.
    public var firstClose: CloseFacts? { closeInitiator.flatMap { close(from: $0) } }

    /// The other side's answering close frame, if it sent one.
    public var echoClose: CloseFacts? { closeInitiator.flatMap { close(from: $0.peer) } }

    /// Both sides sent a close frame.
    public var closeHandshakeComplete: Bool { clientClose != nil && serverClose != nil }

    /// Bytes were lost, or the capture started after the connection opened.
    public var incomplete: Bool { missingClientBytes > 0 || missingServerBytes > 0 || !sawTCPOpen }

    /// Violations committed by `side`.
    public func violations(by side: Side) -> [Violation] { violations.filter { $0.side == side } }

    /// The violations of the first close frame itself (its code, length, reason, bits).
    public var firstCloseViolations: [Violation] {
        guard let closer = closeInitiator, let close = firstClose else { return [] }
        return violations.filter { $0.side == closer && $0.frameIndex == close.frameIndex }
    }

    /// Frames `side` sent after its own close frame.
    public func framesAfterClose(by side: Side) -> [Violation] {
        violations.filter { $0.side == side && $0.kind == .frameAfterClose }
    }

    /// `side`'s frame violations recorded before the first close frame, that frame's own excluded.
    public func violationsBeforeClose(by side: Side) -> [Violation] {
        guard let count = violationsBeforeFirstClose, let close = firstClose else { return [] }
        let closeFrame = closeInitiator == side ? close.frameIndex : nil
        return violations.prefix(count).filter { $0.side == side && $0.frameIndex != nil && $0.frameIndex != closeFrame }
    }

    /// The closer's frame violations, before or after its close frame (that frame's own
    /// excluded), recorded before the answering close came: what that answer may name.
    public var closerViolationsBeforeAnswer: [Violation] {
        guard let closer = closeInitiator, let close = firstClose else { return [] }
        return violations.prefix(violationsBeforeAnswer ?? violations.count)
            .filter { $0.side == closer && $0.frameIndex != nil && $0.frameIndex != close.frameIndex }
    }

    /// How `side` ended TCP: by RST, by FIN, or not at all (nil).
    public func tcpEnd(by side: Side) -> TransportFacts.End? {
        if transport.resetBy == side { return .rst }
        return (side == .client ? transport.clientFinAt : transport.serverFinAt) == nil ? nil : .fin
    }
}

/// The opening handshake as seen on the wire.
public struct HandshakeFacts: Sendable {
    public var method: String
    /// Request target with its query string, exactly as sent (redact before printing).
    public var target: String
    public var host: String?
    public var requestHeaders: HTTPHeaders
    public var requestedAt: Timestamp
    /// HTTP status of the answer; nil when the server never answered.
    public var status: Int?
    public var reason: String?
    public var responseHeaders: HTTPHeaders?
    public var answeredAt: Timestamp?
    public var upgraded: Bool = false
    public var subprotocol: String?
    /// Extensions the server accepted, as `name; param=value` strings.
    public var extensions: [String] = []
    public var deflate: PerMessageDeflateParameters?
    /// False when the request head was over the size bound and skipped: method, target
    /// and request headers are then unknown (left empty).
    public var requestHeadRead = true
    /// Retry-After from a refusal, as sent.
    public var retryAfter: String? { responseHeaders?["Retry-After"] }

    public init(method: String, target: String, host: String?, requestHeaders: HTTPHeaders, requestedAt: Timestamp) {
        self.method = method
        self.target = target
        self.host = host
        self.requestHeaders = requestHeaders
        self.requestedAt = requestedAt
    }

    /// The path part of the target, without the query string.
    public var path: String {
        target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? target
    }
}

/// Traffic from one side.
public struct DirectionFacts: Sendable {
    public var frames = 0
    public var messages = 0
    public var textMessages = 0
    public var binaryMessages = 0
    public var pings = 0
    public var pongs = 0
    /// Pings from this side the peer answered with a matching pong.
    public var pingsAnswered = 0
    /// When the oldest ping from this side still awaiting its pong was sent.
    public var oldestUnansweredPingAt: Timestamp?
    public var unansweredPings = 0
    /// TCP payload bytes from this side (handshake and frames).
    public var bytes: Int64 = 0
    /// Message payload bytes after inflation (wire size where not inflated).
    public var messageBytes: Int64 = 0
    public var largestMessage: Int64 = 0
    public var largestFrame: UInt64 = 0
    public var firstMessageAt: Timestamp?
    public var lastMessageAt: Timestamp?
    /// The last data message from this side.
    public var lastMessage: MessageSummary?
    /// Last time any byte arrived from this side.
    public var lastActivityAt: Timestamp?
    /// Times of the latest messages (for the rate just before a close).
    public var recentMessageTimes = RecentMessageTimes()

    public init() {}
}

/// One data message, without its payload.
public struct MessageSummary: Sendable, Hashable {
    public var index: Int
    public var opcode: Opcode
    public var size: Int64?
    public var wireSize: Int64
    public var at: Timestamp
}

/// A close frame as one side sent it.
public struct CloseFacts: Sendable, Hashable {
    public var code: UInt16?
    public var reason: String
    public var at: Timestamp
    public var frameIndex: Int
    public var offset: Int64

    public init(code: UInt16?, reason: String, at: Timestamp, frameIndex: Int, offset: Int64) {
        self.code = code
        self.reason = reason
        self.at = at
        self.frameIndex = frameIndex
        self.offset = offset
    }
}

/// How the TCP connection ended.
public struct TransportFacts: Sendable, Hashable {
    public enum End: String, Sendable, Hashable {
        case fin, rst
        case captureEnd = "capture-end"
    }
    public var clientFinAt: Timestamp?
    public var serverFinAt: Timestamp?
    public var resetBy: Side?
    public var resetAt: Timestamp?
    public var captureEndedOpen = false
    /// `wsdoctor sniff` gave up on the connection after `--idle-expiry` without a packet.
    public var trackingExpired = false
    /// The first way the connection started ending, and by whom.
    public var firstEnd: End?
    public var firstEndBy: Side?
    public var firstEndAt: Timestamp?
    /// When either side last sent a byte before TCP started to end.
    public var lastActivityBeforeEnd: Timestamp?

    /// Seconds of silence (no byte either way) before TCP started to end.
    public var idleBeforeEnd: Double? {
        guard let end = firstEndAt, let last = lastActivityBeforeEnd else { return nil }
        return end.seconds(since: last)
    }

    public init() {}

    /// Summary of the end: rst if anyone reset, fin if both or one side closed, else capture-end.
    public var end: End? {
        if resetBy != nil { return .rst }
        if clientFinAt != nil || serverFinAt != nil { return .fin }
        return captureEndedOpen ? .captureEnd : nil
    }
}

/// A direction the decoder could not follow to its end.
public struct UndecodableDirection: Sendable, Hashable {
    public var side: Side
    public var reason: String
    public var offset: Int64
}
