/// A connection that has not ended, as a live report shows it between rewrites: what is
/// known so far, with a bounded copy of its timeline. Nothing is diagnosed before the end.
public struct OpenConnection: Sendable {
    public var facts: ConnectionFacts
    /// The first and the last entries of the timeline recorded so far.
    public var timeline: [TimelineEntry]
    public var timelineEntriesNotKept: Int
    /// Where in `timeline` the entries not kept belong (nil when none were dropped).
    public var timelineGap: Int?

    /// Timeline entries copied from each end. 1,000: the copy is taken every few seconds
    /// on the connection's own thread, so it stays small; once the connection has ended its
    /// report has the whole timeline.
    public static let entriesCopiedFromEachEnd = 1_000

    public init(_ analyzer: ConnectionAnalyzer) {
        facts = analyzer.facts
        let recorded = analyzer.recordedTimeline, end = Self.entriesCopiedFromEachEnd
        if recorded.count > 2 * end {
            // The analyzer's own gap lies between the two copied ends: keeping the latest
            // (as live modes do), its head and its tail each hold at least `end` entries
            // whenever it holds more than `2 * end`.
            timeline = recorded.prefix(end) + recorded.suffix(end)
            timelineEntriesNotKept = recorded.notKept + recorded.count - 2 * end
            timelineGap = end
        } else {
            timeline = recorded.entries
            timelineEntriesNotKept = recorded.notKept
            timelineGap = recorded.gap
        }
    }
}
