import WebSocketWire

/// What rules are evaluated against: one connection's facts, plus what is known about the
/// connections around it.
public struct FactContext: Sendable {
    public var facts: ConnectionFacts
    /// Connections to the same server whose first close (or TCP end) came within the
    /// correlation window before this one's with the same code, this one included.
    public var waveSize: Int
    /// The JWT found in the handshake, if any.
    public var token: JSONWebTokenClaims?

    /// Seconds before a close over which the sender's "rate before the close" is measured.
    public static let recentRateWindow = 5
    /// Seconds before that window over which the "earlier" rate is measured (at most).
    public static let earlierRateWindow = 30

    public init(facts: ConnectionFacts, waveSize: Int = 1) {
        self.facts = facts
        self.waveSize = waveSize
        self.token = facts.handshake.flatMap(JSONWebTokenClaims.find(in:))
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
        let direction = facts.direction(from: side)
        guard direction.firstMessageAt != nil else { return 0 }
        let window = Self.recentRateWindow
        return Double(direction.messageRate.count(inLast: window, endingAt: close.at)) / Double(window)
    }

    /// `side`'s messages per second before that window (up to `earlierRateWindow` seconds).
    func rateEarlier(of side: Side) -> Double? {
        guard let close = facts.firstClose, let first = facts.direction(from: side).firstMessageAt else { return nil }
        let recent = Self.recentRateWindow
        let earlierSpan = min(Double(Self.earlierRateWindow), close.at.seconds(since: first) - Double(recent))
        guard earlierSpan >= 1 else { return nil }
        let span = Int(earlierSpan.rounded(.down))
        let rate = facts.direction(from: side).messageRate
        let count = rate.count(inLast: recent + span, endingAt: close.at) - rate.count(inLast: recent, endingAt: close.at)
        return Double(count) / Double(span)
    }
}
