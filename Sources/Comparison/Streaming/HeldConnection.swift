import Diagnosis
import WebSocketWire

/// A connection of one capture from its handshake until it is settled: paired and compared
/// once both legs have ended, or reported as found in one capture only.
struct HeldConnection {
    let id: Int
    let key: String?
    let path: String?
    /// Its request (its opening, without one), on its own capture's clock.
    let requestedAt: Timestamp
    /// The counterpart's id in the other capture, once paired.
    var partner: Int?
    var matchedBy: ConnectionMatcher.MatchedBy?
    /// Set when it has ended.
    var connection: LegConnection?
    /// No counterpart appeared within the window: reported alone once it has ended.
    var unmatched = false

    init(_ facts: ConnectionFacts) {
        id = facts.id
        key = ConnectionMatcher.key(facts)
        path = facts.handshake?.path
        requestedAt = facts.handshake?.requestedAt ?? facts.opened
    }

    /// Still waiting for a counterpart.
    var isOpenForPairing: Bool { partner == nil && !unmatched }
}
