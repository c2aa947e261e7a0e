import Diagnosis
import Testing

@Suite struct MessageRateTests {
    private func at(_ seconds: Double) -> Timestamp { Timestamp(nanoseconds: Int64(seconds * 1e9)) }

    @Test func countsMessagesPerWindow() {
        var rate = MessageRate()
        for tenth in 0..<100 { rate.record(at: at(1000 + Double(tenth) / 10)) }   // 10/s for 10 s
        for tenth in 0..<50 { rate.record(at: at(1010 + Double(tenth) / 50)) }    // 50/s for 1 s
        #expect(rate.count(inLast: 1, endingAt: at(1010.5)) == 50)
        #expect(rate.count(inLast: 5, endingAt: at(1009)) == 50)
        #expect(rate.count(inLast: 64, endingAt: at(1010.9)) == 150)
    }

    @Test func oldSecondsFallOutOfTheWindow() {
        var rate = MessageRate()
        rate.record(at: at(100))
        rate.record(at: at(100 + Double(MessageRate.windowSeconds) + 5))
        #expect(rate.count(inLast: 64, endingAt: at(100 + Double(MessageRate.windowSeconds) + 5)) == 1)
        // A late timestamp from before the window is ignored rather than miscounted.
        rate.record(at: at(101))
        #expect(rate.count(inLast: 64, endingAt: at(100 + Double(MessageRate.windowSeconds) + 5)) == 1)
    }

    @Test func emptyRateCountsNothing() {
        #expect(MessageRate().count(inLast: 10, endingAt: at(5)) == 0)
    }
}
