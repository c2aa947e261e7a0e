#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// SIGINT and SIGTERM, received by one waiting thread rather than by a handler.
///
/// Dispatch signal sources do not fire where the shell set SIGINT to ignored (a
/// background job), so the signals are blocked in every thread and taken with `sigwait`.
struct StopSignals {
    private var set = sigset_t()

    /// Blocks both signals in this thread and every thread started after it: call first.
    static func block() -> StopSignals {
        var signals = StopSignals()
        sigemptyset(&signals.set)
        sigaddset(&signals.set, SIGINT)
        sigaddset(&signals.set, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals.set, nil)
        return signals
    }

    /// Waits for either signal and returns which arrived.
    func wait() -> Int32 {
        var copy = set
        var received: Int32 = 0
        sigwait(&copy, &received)
        return received
    }
}
