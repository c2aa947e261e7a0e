@testable import Comparison
import Testing

@Suite struct PairAlignerTests {
    @Test func equalSequencesPairOneToOne() {
        let steps = PairAligner.align([1, 2, 3], [1, 2, 3], same: ==)
        #expect(steps == [.both(0, 0), .both(1, 1), .both(2, 2)])
    }

    @Test func aMissingElementIsDroppedAndAnExtraOneInjected() {
        #expect(PairAligner.align([1, 2, 3], [1, 3], same: ==) == [.both(0, 0), .upstreamOnly(1), .both(2, 1)])
        #expect(PairAligner.align([1, 3], [1, 9, 3], same: ==) == [.both(0, 0), .downstreamOnly(1), .both(1, 2)])
    }

    @Test func anElementWithNoLikeAheadIsPairedAsAltered() {
        #expect(PairAligner.align([1, 2, 3], [1, 7, 3], same: ==) == [.both(0, 0), .both(1, 1), .both(2, 2)])
    }

    @Test func whatOneSideHasPastTheOtherIsDroppedOrInjected() {
        #expect(PairAligner.align([1, 2, 3], [1], same: ==) == [.both(0, 0), .upstreamOnly(1), .upstreamOnly(2)])
        #expect(PairAligner.align([], [5], same: ==) == [.downstreamOnly(0)])
    }

    @Test func latencyPercentilesAreNearestRank() throws {
        let summary = try #require(LatencySummary((1...100).map { Double($0) / 1000 }))
        #expect(summary.messages == 100)
        #expect(summary.p50 == 0.050)
        #expect(summary.p99 == 0.099)
        #expect(summary.max == 0.100)
        #expect(LatencySummary([]) == nil)
    }
}
