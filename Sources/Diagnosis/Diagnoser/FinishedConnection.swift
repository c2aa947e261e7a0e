/// A connection that has ended, with its diagnosis: what reporters render.
public struct FinishedConnection: Sendable {
    public var facts: ConnectionFacts
    public var diagnosis: ConnectionDiagnosis
    /// The frames and messages kept, when the configuration asked for a timeline.
    public var timeline: [TimelineEntry]
    public var timelineEntriesNotKept: Int
    /// Where in `timeline` the entries not kept belong (nil when none were dropped).
    public var timelineGap: Int?

    public init(facts: ConnectionFacts, diagnosis: ConnectionDiagnosis, timeline: [TimelineEntry], timelineEntriesNotKept: Int,
                timelineGap: Int? = nil) {
        self.facts = facts
        self.diagnosis = diagnosis
        self.timeline = timeline
        self.timelineEntriesNotKept = timelineEntriesNotKept
        self.timelineGap = timelineGap
    }
}
