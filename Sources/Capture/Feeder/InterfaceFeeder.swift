import WebSocketWire

/// Captures live from a network interface and feeds the TCP streams to a ``TCPStreamDelegate``,
/// through the same decoding and reassembly as a capture file.
///
/// Opening happens in `init`, so a missing permission, interface or a bad filter is known
/// before anything is announced. ``run(delegate:)`` reads until ``stop()`` (from any thread),
/// then ends the connections still open.
public final class InterfaceFeeder: @unchecked Sendable {
    public let capture: InterfaceCapture
    public let configuration: TCPReassembler.Configuration
    /// Seconds without a packet after which a connection is given up on; nil keeps every
    /// connection until it ends or ``TCPReassembler/Configuration/maxConnections`` is reached.
    public let idleExpiry: Double?
    /// The counters so far; after ``run(delegate:periodically:)``, also when it threw.
    public private(set) var statistics = CaptureStatistics()

    public init(interface: String, filter: String? = nil, options: InterfaceCapture.Options = .init(),
                configuration: TCPReassembler.Configuration = .init(), idleExpiry: Double? = nil) throws(CaptureError) {
        capture = try InterfaceCapture(interface: interface, filter: filter, options: options)
        guard LinkType.isSupported(capture.linkType) else {
            throw .unsupportedLinkType(interface, linkType: capture.linkType, name: capture.linkTypeName)
        }
        self.configuration = configuration
        self.idleExpiry = idleExpiry
    }

    /// Also writes every captured packet to `path` (see ``InterfaceCapture/write(to:)``).
    public func write(to path: String) throws(CaptureError) {
        try capture.write(to: path)
    }

    /// Makes ``run(delegate:periodically:)`` return soon. Safe from any thread, and from a signal's waiting thread.
    public func stop() {
        capture.stop()
    }

    /// Reads until stopped; `periodically` runs between reads at least every read timeout,
    /// with the counters so far (for metrics). On a read error everything read before it has
    /// been delivered and the open connections have been ended when the error is thrown.
    @discardableResult
    public func run(delegate: any TCPStreamDelegate,
                    periodically: (CaptureStatistics) -> Void = { _ in }) throws(CaptureError) -> CaptureStatistics {
        var intake = PacketIntake(reassembler: TCPReassembler(configuration: configuration, delegate: delegate))
        // Expiry is checked a few times per expiry period, and at most once a second.
        let sweepEvery = idleExpiry.map { max(1, min($0 / 4, 60)) } ?? .infinity
        var lastSweep = wallClockNow()
        var failure: CaptureError?
        while true {
            let outcome: InterfaceCapture.ReadOutcome
            do {
                outcome = try capture.read(limit: 512) { intake.take($0) }
            } catch {
                failure = error
                break
            }
            let now = wallClockNow()
            if let idleExpiry, now.seconds(since: lastSweep) >= sweepEvery {
                lastSweep = now
                intake.reassembler.expireIdle(before: now.adding(seconds: -idleExpiry), at: now)
            }
            statistics = intake.current
            periodically(statistics)
            if outcome == .stopped { break }
        }
        intake.reassembler.finish(at: wallClockNow())
        statistics = intake.current
        periodically(statistics)
        if let failure { throw failure }
        return statistics
    }
}
