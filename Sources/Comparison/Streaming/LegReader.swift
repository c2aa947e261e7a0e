import Capture
import CaptureAnalysis
import Diagnosis
import WebSocketWire

/// One capture of a comparison, read packet by packet through its own ``ReplaySession``.
/// What the session reports while a packet is fed waits in `events` until taken.
final class LegReader {
    enum Event {
        /// The server answered the connection's upgrade request.
        case answered(ConnectionFacts)
        case finished(FinishedConnection)
    }

    /// Collects the session's reports; made before the session, which keeps it.
    private final class Inbox {
        var events: [Event] = []
    }

    let path: String
    private let inbox = Inbox()
    private let session: ReplaySession
    private let stepper: CaptureFileStepper
    /// The time of the latest packet read, on this capture's clock.
    private(set) var now: Timestamp?
    private(set) var isDone = false
    /// The error that cut reading short (what came before it was read).
    private(set) var error: CaptureError?

    init(path: String, filter: String?, configuration: AnalyzerConfiguration, rules: RuleSet,
         webSocketPorts: Set<UInt16>) throws(CaptureError) {
        self.path = path
        let inbox = inbox
        // `.ending`: a connection is handed on when it ends, so a long-lived one holds back nothing.
        session = ReplaySession(configuration: configuration, rules: rules, webSocketPorts: webSocketPorts, order: .ending) {
            inbox.events.append(.finished($0))
        }
        session.onHandshakeAnswered = { inbox.events.append(.answered($0)) }
        stepper = try session.stepper(file: path, filter: filter)
    }

    /// Reads one packet; at the end of the file (or an error) ends every open connection.
    func step() {
        guard !isDone else { return }
        do {
            if let time = try stepper.step() {
                now = time
                return
            }
        } catch {
            self.error = error
        }
        session.finishAll(at: session.latestTime)
        isDone = true
    }

    /// What the session reported since the last call, in its order.
    func takeEvents() -> [Event] {
        defer { inbox.events.removeAll(keepingCapacity: true) }
        return inbox.events
    }
}
