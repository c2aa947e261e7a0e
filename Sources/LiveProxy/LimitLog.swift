import Diagnosis
import MetricsReporting
import NIOConcurrencyHelpers
import WebSocketWire
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One line when a limit is hit, at most one a second per limit and place: a flood of hostile
/// clients must not flood the log too. The lines held back are counted in the next one (and
/// every hit in the limit's metric).
final class LimitLog: Sendable {
    private let events: any ProxyEvents
    private let state = NIOLockedValueBox([String: (lastLine: Int64, heldBack: Int)]())
    /// Nanoseconds between two lines of the same limit.
    private let interval: Int64 = 1_000_000_000

    init(events: any ProxyEvents) {
        self.events = events
    }

    /// "out of descriptors (EMFILE: …)": which limit ran out, for the lines of every place it is hit.
    static func outOfDescriptors(_ code: Int32) -> String {
        "out of descriptors (\(code == EMFILE ? "EMFILE: this process's limit, ulimit -n" : "ENFILE: the system's limit"))"
    }

    /// `place` tells apart where one limit is hit (descriptors run out accepting, and connecting
    /// upstream): the one accepting fails right after every accept at the limit, and would
    /// otherwise hide the other's line.
    func hit(_ limit: ProxyLimit, at place: String = "", _ line: () -> String) {
        let now = wallClockNow().nanoseconds
        let key = place.isEmpty ? limit.rawValue : limit.rawValue + " " + place
        let heldBack = state.withLockedValue { entries -> Int? in
            let entry = entries[key] ?? (lastLine: now - interval, heldBack: 0)
            guard now - entry.lastLine >= interval else {
                entries[key] = (entry.lastLine, entry.heldBack + 1)
                return nil
            }
            entries[key] = (now, 0)
            return entry.heldBack
        }
        guard let heldBack else { return }
        events.limitReached(line() + (heldBack > 0 ? " (and \(heldBack) more since the last such line)" : ""))
    }
}
