/// A connection that has ended, with its diagnosis: what reporters render.
public struct FinishedConnection: Sendable {
    public var facts: ConnectionFacts
    public var diagnosis: ConnectionDiagnosis
    /// Every frame and message, when the configuration asked for a timeline.
    public var timeline: [TimelineEntry]
    public var timelineEntriesNotKept: Int

    public init(facts: ConnectionFacts, diagnosis: ConnectionDiagnosis, timeline: [TimelineEntry], timelineEntriesNotKept: Int) {
        self.facts = facts
        self.diagnosis = diagnosis
        self.timeline = timeline
        self.timelineEntriesNotKept = timelineEntriesNotKept
    }
}
