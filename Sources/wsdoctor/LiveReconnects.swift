import Diagnosis
import Dispatch
import NIOConcurrencyHelpers
import Reconnects
import WebSocketWire

/// The reconnect tracker of a live session (proxy, sniff): fed from the event loops or the
/// capture thread, advanced once a second by the wall clock, finished at stop.
final class LiveReconnects: Sendable {
    private let tracker: NIOLockedValueBox<ReconnectTracker>
    private let key: ClientKey
    private let emit: @Sendable ([ReconnectEpisode]) -> Void
    /// Set by `finish`; read under `ticking`, so no tick prints after the final episodes.
    private let stopped = NIOLockedValueBox(false)
    private let ticking = NIOLock()

    init(rules: RuleSet, options: ReconnectOptions, emit: @escaping @Sendable ([ReconnectEpisode]) -> Void) {
        tracker = NIOLockedValueBox(ReconnectTracker(rules: rules, configuration: options.trackerConfiguration))
        key = options.key
        self.emit = emit
        scheduleTick()
    }

    /// Once a second until `finish`: episodes whose client stayed connected or gave up.
    private func scheduleTick() {
        DispatchQueue.global().asyncAfter(deadline: .now() + 1) { [self] in
            let running = ticking.withLock {
                guard !stopped.withLockedValue({ $0 }) else { return false }
                let now = wallClockNow()
                let episodes = tracker.withLockedValue { $0.advance(to: now) }
                if !episodes.isEmpty { emit(episodes) }
                return true
            }
            if running { scheduleTick() }
        }
    }

    /// An upgrade was answered (or refused).
    func opened(_ facts: ConnectionFacts) {
        guard let attempt = ConnectionAttempt(facts, key: key, ended: false) else { return }
        let episodes = tracker.withLockedValue { $0.attempted(attempt) }
        if !episodes.isEmpty { emit(episodes) }
    }

    /// A connection ended.
    func closed(_ facts: ConnectionFacts) {
        guard let attempt = ConnectionAttempt(facts, key: key, ended: true) else { return }
        let episodes = tracker.withLockedValue { $0.ended(attempt) }
        if !episodes.isEmpty { emit(episodes) }
    }

    /// wsdoctor stops: every episode still open is reported as it stands.
    func finish() {
        ticking.withLock {
            stopped.withLockedValue { $0 = true }
            let episodes = tracker.withLockedValue { $0.finish() }
            if !episodes.isEmpty { emit(episodes) }
        }
    }
}
