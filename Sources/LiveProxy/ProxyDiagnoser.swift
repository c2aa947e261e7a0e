import Capture
import Diagnosis
import NIOConcurrencyHelpers

/// Diagnoses connections as they end, across all event loops, with one close correlator.
final class ProxyDiagnoser: Sendable {
    let rules: RuleSet
    private let correlator = NIOLockedValueBox(CloseCorrelator())

    init(rules: RuleSet) {
        self.rules = rules
    }

    func diagnose(_ analyzer: ConnectionAnalyzer) -> FinishedConnection {
        let wave = correlator.withLockedValue { $0.record(analyzer.facts) }
        let diagnosis = rules.diagnose(FactContext(facts: analyzer.facts, waveSize: wave))
        return FinishedConnection(facts: analyzer.facts, diagnosis: diagnosis, timeline: analyzer.timeline,
                                  timelineEntriesNotKept: analyzer.timelineEntriesNotKept)
    }
}
