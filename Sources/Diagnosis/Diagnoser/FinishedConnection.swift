/// A connection that has ended, with its diagnosis: what reporters render.
public struct FinishedConnection: Sendable {
    public var facts: ConnectionFacts
    public var diagnosis: ConnectionDiagnosis
    /// The frames and messages kept, when the configuration asked for a timeline.
    public var timeline: [TimelineEntry]
    public var timelineEntriesNotKept: Int
    /// Where in `timeline` the entries not kept belong (nil when none were dropped).
    public var timelineGap: Int?
    /// The report as the renderer given to ``PreparedReport/prepare(_:rules:render:)`` wrote
    /// it on another thread; nil when it is to be rendered now.
    public var rendered: String?

    public init(facts: ConnectionFacts, diagnosis: ConnectionDiagnosis, timeline: [TimelineEntry], timelineEntriesNotKept: Int,
                timelineGap: Int? = nil, rendered: String? = nil) {
        self.facts = facts
        self.diagnosis = diagnosis
        self.timeline = timeline
        self.timelineEntriesNotKept = timelineEntriesNotKept
        self.timelineGap = timelineGap
        self.rendered = rendered
    }
}
