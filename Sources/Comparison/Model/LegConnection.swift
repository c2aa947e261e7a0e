import Diagnosis
import WebSocketWire

/// One connection as one capture saw it, reduced to what comparing needs.
public struct LegConnection: Sendable {
    /// The connection as replay reports it (facts and its own diagnosis); its timeline is
    /// dropped once split into `traffic`.
    public var connection: FinishedConnection
    public var traffic: [Side: SideTraffic]

    public init(_ finished: FinishedConnection) {
        traffic = SideTraffic.split(finished.timeline)
        var kept = finished
        kept.timeline = []
        connection = kept
    }

    public var facts: ConnectionFacts { connection.facts }
    public var key: String? { ConnectionMatcher.key(facts) }
    public var path: String? { facts.handshake?.path }

    public func sent(by side: Side) -> SideTraffic { traffic[side] ?? SideTraffic() }

    /// When `side` stopped sending on this leg: its close frame, FIN or RST, whichever came first.
    public func end(of side: Side) -> (at: Timestamp, how: String)? {
        var ends: [(at: Timestamp, how: String)] = []
        let transport = facts.transport
        if let close = sent(by: side).close, let at = sent(by: side).closeAt {
            ends.append((at, "close frame" + (close.code.map { " \($0)" } ?? " without a code")))
        }
        if let fin = side == .client ? transport.clientFinAt : transport.serverFinAt { ends.append((fin, "FIN")) }
        if transport.resetBy == side, let reset = transport.resetAt { ends.append((reset, "RST")) }
        return ends.min { $0.at < $1.at }
    }

    /// Who ended this leg first, when and how.
    public func firstEnd() -> (side: Side, at: Timestamp, how: String)? {
        Side.allCases.compactMap { side in end(of: side).map { (side, $0.at, $0.how) } }.min { $0.at < $1.at }
    }

    /// The last frame, or the handshake answer, on this leg before `time`.
    public func lastActivity(before time: Timestamp) -> Timestamp? {
        var latest = facts.handshake?.answeredAt
        for side in Side.allCases {
            let traffic = sent(by: side)
            let times = traffic.messages.map(\.at) + traffic.controls.map(\.at) + [traffic.closeAt].compactMap { $0 }
            for at in times where at < time && at > (latest ?? Timestamp(nanoseconds: .min)) { latest = at }
        }
        return latest
    }
}
