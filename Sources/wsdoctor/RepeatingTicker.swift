import Foundation
import NIOConcurrencyHelpers

/// Calls `tick` every `interval` seconds on a thread of its own, until `stop()`.
///
/// A plain thread, not a Dispatch timer: libdispatch's worker-pool monitor reads
/// /proc/TID/stat and traps when that open fails, so a proxy using Dispatch dies exactly
/// when it runs out of descriptors, the moment it must keep serving.
final class RepeatingTicker: Sendable {
    private let stopped = NIOLockedValueBox(false)
    /// Held while a tick runs, so `stop()` can wait for one under way.
    private let ticking = NIOLock()

    init(every interval: TimeInterval, _ tick: @escaping @Sendable () -> Void) {
        let thread = Thread { [stopped, ticking] in
            while true {
                Thread.sleep(forTimeInterval: interval)
                let goOn = ticking.withLock { () -> Bool in
                    guard !stopped.withLockedValue({ $0 }) else { return false }
                    tick()
                    return true
                }
                if !goOn { return }
            }
        }
        thread.start()
    }

    /// No tick starts after this returns; a tick under way is waited for.
    func stop() {
        ticking.withLock { stopped.withLockedValue { $0 = true } }
    }
}
