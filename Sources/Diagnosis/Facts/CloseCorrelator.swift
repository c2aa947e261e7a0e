import WebSocketWire

/// Notices connections that end together: the same server, the same close code, within the
/// rules' `close_correlation_window` — the mark of a restart or an overload wave rather than
/// one bad client.
///
/// Looks only backwards in time, so a live session and a replay of its recording count the
/// same waves.
public struct CloseCorrelator: Sendable {
    /// Seconds within which closes count as one wave (the rules decide; Rules/default.yaml).
    public let window: Double
    /// Ends remembered at most; older ones are dropped first.
    public static let capacity = 100_000

    private struct End: Sendable {
        var at: Timestamp
        var server: Endpoint
        var code: UInt16?
    }

    private var ends: [End] = []
    private var oldest = 0

    public init(window: Double) {
        self.window = window
    }

    /// Records the end of `facts`' connection and returns the size of the wave it belongs to.
    public mutating func record(_ facts: ConnectionFacts) -> Int {
        guard let at = facts.firstClose?.at ?? facts.transport.firstEndAt ?? facts.closed else { return 1 }
        let code = facts.firstClose?.code
        let horizon = at.adding(seconds: -window)
        var size = 1
        for end in ends[oldest...] where end.server == facts.server && end.code == code && end.at >= horizon && end.at <= at {
            size += 1
        }
        ends.append(End(at: at, server: facts.server, code: code))
        prune(before: horizon)
        return size
    }

    private mutating func prune(before horizon: Timestamp) {
        // Ends arrive roughly in time order; drop the leading ones out of any window.
        while oldest < ends.count - 1, ends[oldest].at < horizon.adding(seconds: -window) {
            oldest += 1
        }
        if ends.count - oldest > Self.capacity { oldest = ends.count - Self.capacity }
        if oldest > 4096 && oldest * 2 > ends.count {
            ends.removeFirst(oldest)
            oldest = 0
        }
    }
}
