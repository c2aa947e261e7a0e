import NIOConcurrencyHelpers
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// Gives memory freed by closed connections back to the system.
///
/// glibc keeps what the event-loop threads free in their own arenas instead of returning it,
/// so after a burst of connections the resident size stays near its peak (88 MB above the
/// start after 2,000 connections). `malloc_trim(0)` returns the free pages of every arena;
/// it walks them under their locks and holds up the event loop it runs on for a moment, so
/// it runs only when the proxy has just become idle or after `closesPerTrim` closes, and
/// about once a second. (On an event loop rather than a Dispatch queue: starting
/// Dispatch's threads would cost descriptors of its own.)
final class MemoryTrimmer: Sendable {
    /// Closes between two trims while connections stay open: 1,000, a few MB of buffers.
    private let closesPerTrim = 1_000
    /// How long the trim waits once the proxy is idle: a connection's channels, handlers and
    /// state are freed after its close is counted, on every event loop, and memory freed
    /// after the trim would stay (2.6 MB of 5.2 MB after 2,000 connections, measured).
    private let settleNanoseconds: UInt64 = 1_000_000_000
    private let state = NIOLockedValueBox(State())

    private struct State {
        var closesSinceTrim = 0
        var lastTrim: UInt64 = 0
        /// When the latest scheduled trim runs, if one is.
        var pendingAt: UInt64?
    }

    /// A connection closed on `loop`; `open` are still being relayed.
    func connectionClosed(open: Int, on loop: any EventLoop) {
        #if canImport(Glibc)
        let now = NIODeadline.now().uptimeNanoseconds
        let delay = state.withLockedValue { state -> UInt64? in
            state.closesSinceTrim += 1
            guard open == 0 || state.closesSinceTrim >= closesPerTrim else { return nil }
            let earliest = open == 0 ? now + settleNanoseconds : now
            // A trim already due late enough covers this close too.
            if let pending = state.pendingAt, pending >= earliest { return nil }
            let at = max(earliest, state.lastTrim + 1_000_000_000)
            state.pendingAt = at
            return at - now
        }
        guard let delay else { return }
        loop.scheduleTask(in: .nanoseconds(Int64(delay))) { [state] in
            state.withLockedValue { state in
                let now = NIODeadline.now().uptimeNanoseconds
                if let pending = state.pendingAt, pending <= now { state.pendingAt = nil }
                state.closesSinceTrim = 0
                state.lastTrim = now
            }
            _ = Self.mallocTrim?(0)
        }
        #endif
    }

    #if canImport(Glibc)
    /// glibc's `malloc_trim`, which Swift's Glibc module does not export (it is in malloc.h);
    /// nil on a C library without it.
    private static let mallocTrim: (@convention(c) (Int) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
    }()
    #endif
}
