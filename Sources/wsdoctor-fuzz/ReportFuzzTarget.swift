import Diagnosis
import Foundation
import Reporting
import WebSocketWire

/// Renders one connection (a `FuzzInput`, its timeline always recorded) as text and JSON.
///
/// Bit 7 of the options byte shows secrets. Every JSON line must parse: the fuzzer stops on
/// one that does not, as it would on a crash.
enum ReportFuzzTarget {
    static func run(_ input: UnsafeRawBufferPointer) -> String {
        var analyzer = FuzzInput.run(input, recordingTimeline: true)
        let facts = analyzer.facts
        let gap = analyzer.timelineGap
        let timeline = analyzer.drainTimeline()
        let diagnosis = RuleSet.defaults().diagnose(FactContext(facts: facts))
        let redaction = Redaction(showSecrets: (input.first ?? 0) & 0x80 != 0, alsoRedact: ["room", "X-Custom-Secret"])
        let bytes = render(facts, diagnosis: diagnosis, timeline: timeline, timelineNotKept: analyzer.timelineEntriesNotKept,
                           timelineGap: gap, redaction: redaction)
        return "\(timeline.count) timeline entries, \(bytes) report bytes, diagnosis \(diagnosis.id)"
    }

    /// Both reports of one connection, checked; returns their size in bytes.
    static func render(_ facts: ConnectionFacts, diagnosis: ConnectionDiagnosis, timeline: [TimelineEntry], timelineNotKept: Int,
                       timelineGap: Int?, redaction: Redaction) -> Int {
        let text = ConnectionText(redaction: redaction).render(facts, diagnosis: diagnosis, timeline: timeline,
                                                               timelineNotKept: timelineNotKept, timelineGap: timelineGap)
        let json = ConnectionJSON(redaction: redaction).render(facts, diagnosis: diagnosis, capture: "fuzz.pcap")
        guard (try? JSONSerialization.jsonObject(with: Data(json.utf8))) is [String: Any] else {
            preconditionFailure("the JSON report does not parse: \(json)")
        }
        var headerBytes = 0
        for (name, value) in facts.handshake?.requestHeaders ?? HTTPHeaders() {
            headerBytes += redaction.header(name: name, value: value).utf8.count
        }
        return text.utf8.count + json.utf8.count + headerBytes
    }
}
