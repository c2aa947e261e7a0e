import Diagnosis
import MetricsReporting
import NIOConcurrencyHelpers
import WebSocketWire

/// One line when a limit is hit, at most one a second per limit: a flood of hostile clients
/// must not flood the log too. The lines held back are counted in the next one (and every
/// hit in the limit's metric).
final class LimitLog: Sendable {
    private let events: any ProxyEvents
    private let state = NIOLockedValueBox([ProxyLimit: (lastLine: Int64, heldBack: Int)]())
    /// Nanoseconds between two lines of the same limit.
    private let interval: Int64 = 1_000_000_000

    init(events: any ProxyEvents) {
        self.events = events
    }

    func hit(_ limit: ProxyLimit, _ line: () -> String) {
        let now = wallClockNow().nanoseconds
        let heldBack = state.withLockedValue { entries -> Int? in
            let entry = entries[limit] ?? (lastLine: now - interval, heldBack: 0)
            guard now - entry.lastLine >= interval else {
                entries[limit] = (entry.lastLine, entry.heldBack + 1)
                return nil
            }
            entries[limit] = (now, 0)
            return entry.heldBack
        }
        guard let heldBack else { return }
        events.limitReached(line() + (heldBack > 0 ? " (and \(heldBack) more since the last such line)" : ""))
    }
}
