import Diagnosis
import NIOConcurrencyHelpers
import Reconnects
import WebSocketWire

/// The reconnect tracker of a live session (proxy, sniff): fed from the event loops or the
/// capture thread, advanced once a second by the wall clock, finished at stop.
final class LiveReconnects: Sendable {
    private let tracker: NIOLockedValueBox<ReconnectTracker>
    private let key: ClientKey
    private let emit: @Sendable ([ReconnectEpisode]) -> Void
    /// Once a second until `finish`: episodes whose client stayed connected or gave up.
    private let ticker: NIOLockedValueBox<RepeatingTicker?> = NIOLockedValueBox(nil)

    init(rules: RuleSet, options: ReconnectOptions, emit: @escaping @Sendable ([ReconnectEpisode]) -> Void) {
        tracker = NIOLockedValueBox(ReconnectTracker(rules: rules, configuration: options.trackerConfiguration))
        key = options.key
        self.emit = emit
        let started = RepeatingTicker(every: 1) { [tracker, emit] in
            let now = wallClockNow()
            let episodes = tracker.withLockedValue { $0.advance(to: now) }
            if !episodes.isEmpty { emit(episodes) }
        }
        ticker.withLockedValue { $0 = started }
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
        // No tick prints after the final episodes.
        ticker.withLockedValue { $0 }?.stop()
        let episodes = tracker.withLockedValue { $0.finish() }
        if !episodes.isEmpty { emit(episodes) }
    }
}
