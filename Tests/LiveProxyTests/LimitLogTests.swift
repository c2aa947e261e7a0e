import Diagnosis
@testable import LiveProxy
import NIOConcurrencyHelpers
import Testing

@Suite struct LimitLogTests {
    /// Keeps the lines the log lets through.
    final class Lines: ProxyEvents {
        let lines = NIOLockedValueBox([String]())
        func connectionOpened(_ facts: ConnectionFacts) {}
        func connectionEvents(_ facts: ConnectionFacts, _ entries: [TimelineEntry]) {}
        func connectionClosed(_ connection: FinishedConnection) {}
        func limitReached(_ line: String) { lines.withLockedValue { $0.append(line) } }
    }

    @Test("a flood of hits is one line a second per limit and place; the next line counts the held-back ones")
    func oneLineASecond() async throws {
        let events = Lines()
        let log = LimitLog(events: events)
        for _ in 0..<50 { log.hit(.descriptors) { "accepting" } }
        log.hit(.descriptors, at: "out-of-descriptors") { "connecting" }
        log.hit(.headTimeout) { "head" }
        #expect(events.lines.withLockedValue { $0 } == ["accepting", "connecting", "head"])
        try await Task.sleep(for: .milliseconds(1100))
        log.hit(.descriptors) { "accepting" }
        #expect(events.lines.withLockedValue { $0 }.last == "accepting (and 49 more since the last such line)")
    }
}
