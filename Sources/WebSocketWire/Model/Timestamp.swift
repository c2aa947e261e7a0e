/// A point in time as nanoseconds since the Unix epoch, as captures and clocks give it.
public struct Timestamp: Sendable, Hashable, Comparable {
    public var nanoseconds: Int64

    @inlinable
    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public init(seconds: Int64, nanoseconds: Int64) {
        self.nanoseconds = seconds &* 1_000_000_000 &+ nanoseconds
    }

    @inlinable
    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    /// Seconds from `earlier` to `self`.
    @inlinable
    public func seconds(since earlier: Timestamp) -> Double {
        Double(nanoseconds &- earlier.nanoseconds) / 1e9
    }

    /// `seconds` later (earlier when negative), wrapping as `init(seconds:nanoseconds:)` does:
    /// a capture's clock can sit at either end of the range, and that must not trap.
    public func adding(seconds: Double) -> Timestamp {
        Timestamp(nanoseconds: nanoseconds &+ Int64(seconds * 1e9))
    }
}
