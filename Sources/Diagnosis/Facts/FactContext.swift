import WebSocketWire

/// What rules are evaluated against: one connection's facts, plus what is known about the
/// connections around it.
public struct FactContext: Sendable {
    public var facts: ConnectionFacts
    /// Connections to the same server whose first close (or TCP end) came within the
    /// correlation window before this one's with the same code, this one included.
    public var waveSize: Int
    /// The correlation window `waveSize` was counted over, in seconds (the rules' setting).
    public var correlationWindow: Double?
    /// The JWT found in the handshake, if any.
    public var token: JSONWebTokenClaims?
    /// What comparing this connection's two legs found (`wsdoctor compare`); nil otherwise.
    public var pair: PairFacts?
    /// The reconnect episode being judged; nil when a connection is.
    public var reconnect: ReconnectFacts?

    /// Seconds before a close over which the sender's "rate before the close" is measured.
    /// One second: rate limits are counted per second, and a burst shows at this scale.
    public static let recentRateWindow: Double = 1

    public init(facts: ConnectionFacts, waveSize: Int = 1) {
        self.facts = facts
        self.waveSize = waveSize
        self.token = facts.handshake.flatMap(JSONWebTokenClaims.find(in:))
    }

    /// An episode to judge: no connection's facts apply, so its stand-in has none of note.
    public init(reconnect: ReconnectFacts) {
        let client = Endpoint(address: reconnect.client, port: 0)
        self.init(facts: ConnectionFacts(id: -1, client: client, server: client, opened: Timestamp(nanoseconds: 0), sawTCPOpen: true, sidesGuessed: false))
        self.reconnect = reconnect
    }

    /// The side that sent the first close frame.
    public var closer: Side? { facts.closeInitiator }
    /// The other side: the one whose behaviour a close usually answers.
    public var peer: Side? { closer?.peer }

    /// When the connection started to end: the first close frame, else the first TCP end.
    public var endTime: Timestamp? { facts.firstClose?.at ?? facts.transport.firstEndAt ?? facts.closed }

    /// `side`'s messages per second in the `recentRateWindow` seconds before the first close.
    func rateBeforeClose(of side: Side) -> Double? {
        guard let close = facts.firstClose else { return nil }
        return facts.direction(from: side).recentMessageTimes.rate(overLast: Self.recentRateWindow, endingAt: close.at)
    }

    /// `side`'s messages per second from its first message to the start of that window.
    func rateEarlier(of side: Side) -> Double? {
        guard let close = facts.firstClose, let first = facts.direction(from: side).firstMessageAt,
              let last = facts.lastMessageBeforeClose(from: side) else { return nil }
        let windowStart = close.at.adding(seconds: -Self.recentRateWindow)
        let span = windowStart.seconds(since: first)
        guard span >= 1 else { return nil }
        let recent = facts.direction(from: side).recentMessageTimes.count(overLast: Self.recentRateWindow, endingAt: close.at)
        return Double(max(0, last.index + 1 - recent)) / span
    }
}
