import Capture
import Diagnosis

/// What a worker's event did that the one ``Diagnoser`` must hear of, tagged with the
/// event's place in the capture so the merger applies outcomes in single-threaded order.
///
/// `@unchecked Sendable`: an ended connection's analyzer (not `Sendable`: its decoder holds
/// zlib state) is handed from its worker to the merger and never touched by the worker again.
struct ReplayOutcome: @unchecked Sendable {
    enum Kind {
        /// The connection began (its ticket is taken in opening order).
        case opened
        /// The server answered the upgrade request.
        case upgradeAnswered(ConnectionFacts)
        /// The connection is over; its report is prepared unless it is not worth one.
        case ended(ConnectionAnalyzer, PreparedReport?)
    }

    var sequence: Int
    var connection: TCPConnectionID
    var kind: Kind

    /// Capture order; the end of the source ends several connections at one place, in
    /// connection order (as ``ReplaySession/finishAll(at:)`` does).
    static func captureOrderKey(_ outcome: ReplayOutcome) -> (sequence: Int, connection: Int) {
        (outcome.sequence, outcome.connection.rawValue)
    }
}
