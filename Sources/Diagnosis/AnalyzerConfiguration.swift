import WebSocketWire

/// Bounds and options for analyzing a connection.
public struct AnalyzerConfiguration: Sendable, Hashable {
    public var decoder: ConnectionDecoderConfiguration
    /// Violations kept per connection. 1,000: a broken peer repeats the same mistake on
    /// every frame; the first thousand say everything, the rest are counted.
    public var maxViolations: Int
    /// Keep every frame in a timeline (for `--frames`).
    public var recordTimeline: Bool
    /// Timeline entries kept per connection when recording. 100,000 is a long debugging
    /// session; past it the first half and the latest half are kept, those between counted.
    public var maxTimelineEntries: Int
    /// Past the bound, keep the latest entries in place of the oldest after the first half
    /// (true), or keep only the first `maxTimelineEntries` (false).
    public var keepsLatestTimelineEntries: Bool
    /// Outstanding pings tracked per side. 64: real clients keep one or two in flight.
    public var maxOutstandingPings: Int

    public init(decoder: ConnectionDecoderConfiguration = ConnectionDecoderConfiguration(), maxViolations: Int = 1000,
                recordTimeline: Bool = false, maxTimelineEntries: Int = 100_000,
                maxOutstandingPings: Int = 64, keepsLatestTimelineEntries: Bool = true) {
        self.decoder = decoder
        self.maxViolations = maxViolations
        self.recordTimeline = recordTimeline
        self.maxTimelineEntries = maxTimelineEntries
        self.maxOutstandingPings = maxOutstandingPings
        self.keepsLatestTimelineEntries = keepsLatestTimelineEntries
    }
}

/// One thing that happened on a connection, with its time (for `--frames`).
public struct TimelineEntry: Sendable, Hashable {
    public var at: Timestamp
    public var event: WireEvent
}
