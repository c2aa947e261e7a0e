import Diagnosis
import Testing
import WebSocketWire

/// Without a timeline, ordinary frames and messages reach the analyzer summed per chunk
/// (`.tally`) instead of one event each: the facts and the diagnosis must not change.
@Suite struct FrameTallyTests {
    @Test(arguments: allFixtures)
    func summedFramesGiveTheSameFactsAndDiagnosis(file: String) {
        let serverPorts: Set<UInt16> = file.contains("mid-stream") ? [58533, 40235] : []
        let eachFrame = replay(fixturePath(file), webSocketPorts: serverPorts, timeline: true)
        let summed = replay(fixturePath(file), webSocketPorts: serverPorts, timeline: false)
        #expect(summed.connections.count == eachFrame.connections.count)
        // Every stored property, nested ones too (the facts are not Equatable).
        for (a, b) in zip(eachFrame.connections, summed.connections) {
            #expect(String(describing: a.facts) == String(describing: b.facts))
            #expect(String(describing: a.diagnosis) == String(describing: b.diagnosis))
        }
    }

    @Test func recordingManyTimesAtOnceEqualsRecordingOneByOne() {
        let base = Timestamp(seconds: 1_000, nanoseconds: 0)
        for before in [0, 5, 127, 128, 300] {
            for count in [0, 1, 3, 127, 128, 129, 256, 1_000] {
                var oneByOne = RecentMessageTimes(), atOnce = RecentMessageTimes()
                for i in 0..<before {
                    oneByOne.record(base.adding(seconds: Double(i)))
                    atOnce.record(base.adding(seconds: Double(i)))
                }
                let later = base.adding(seconds: 5_000)
                for _ in 0..<count { oneByOne.record(later) }
                atOnce.record(later, times: count)
                #expect(atOnce == oneByOne, "\(before) recorded, then \(count) at once")
                // A later message lands in the same slot either way.
                oneByOne.record(later.adding(seconds: 1))
                atOnce.record(later.adding(seconds: 1))
                #expect(atOnce == oneByOne)
            }
        }
    }
}
