/// A connection's diagnosis (and its rendering) worked out on another thread than the
/// ``Diagnoser``'s, right where the connection ended: a replay worker does it, so that the
/// one thread that orders the reports does not evaluate rules or build strings.
///
/// It is made for a wave of one. The ``Diagnoser`` uses it when the connection's wave turns
/// out to be one, or when no rule looked at `wave.size`; otherwise it diagnoses again, so a
/// report is always what it would have been without preparing.
public struct PreparedReport: Sendable {
    let diagnosis: ConnectionDiagnosis
    let readsWaveSize: Bool
    /// What the renderer made of the report with this diagnosis.
    let rendered: String?

    /// Prepares `analyzer`'s report, or nil when the connection is not worth one even to a
    /// server known to speak WebSocket (the ``Diagnoser`` will not report it).
    ///
    /// - Parameter render: the reporter's rendering of a finished connection (text or JSON),
    ///   kept with the report and handed on in ``FinishedConnection/rendered``.
    public static func prepare(_ analyzer: ConnectionAnalyzer, rules: RuleSet,
                               render: ((FinishedConnection) -> String)?) -> PreparedReport? {
        let facts = analyzer.facts
        guard Diagnoser.isWorthReporting(facts, toKnownWebSocketServer: true) else { return nil }
        var context = FactContext(facts: facts, waveSize: 1)
        context.correlationWindow = rules.settings.closeCorrelationWindow
        let (diagnosis, readsWaveSize) = rules.diagnose(context, noting: Self.waveSizeFact)
        let rendered = render?(FinishedConnection(facts: facts, diagnosis: diagnosis, timeline: analyzer.timeline,
                                                  timelineEntriesNotKept: analyzer.timelineEntriesNotKept, timelineGap: analyzer.timelineGap))
        return PreparedReport(diagnosis: diagnosis, readsWaveSize: readsWaveSize, rendered: rendered)
    }

    /// The one fact that depends on other connections (``CloseCorrelator``).
    static let waveSizeFact = "wave.size"

    /// Whether this diagnosis is the one a connection in a wave of `waveSize` gets.
    func holds(forWaveSize waveSize: Int) -> Bool {
        waveSize == 1 || !readsWaveSize
    }
}
