/// How many messages arrived in each of the last 64 seconds.
///
/// One-second buckets in a ring: recording is O(1) and the memory is fixed (256 bytes),
/// whatever the rate, so a busy connection costs no more than an idle one.
public struct MessageRate: Sendable, Hashable {
    /// Seconds of history kept. 64 covers a minute before a close, enough to compare the
    /// rate just before it with the rate before that.
    public static let windowSeconds = 64

    private var buckets: [UInt32] = []
    /// The whole second (since the epoch) of the newest bucket.
    private var newestSecond: Int64 = .min

    public init() {}

    public mutating func record(at time: Timestamp) {
        let second = time.nanoseconds / 1_000_000_000
        if buckets.isEmpty {
            buckets = Array(repeating: 0, count: Self.windowSeconds)
            newestSecond = second
        }
        if second > newestSecond {
            // Clear the buckets the clock moved past.
            let steps = min(Int64(Self.windowSeconds), second - newestSecond)
            for step in 1...steps {
                buckets[Self.slot(newestSecond + step)] = 0
            }
            newestSecond = second
        } else if newestSecond - second >= Int64(Self.windowSeconds) {
            return  // older than the window: out-of-order timestamps from long ago
        }
        buckets[Self.slot(second)] &+= 1
    }

    /// Messages in the `seconds` whole seconds up to and including the one holding `end`.
    public func count(inLast seconds: Int, endingAt end: Timestamp) -> Int {
        guard !buckets.isEmpty, seconds > 0 else { return 0 }
        let endSecond = end.nanoseconds / 1_000_000_000
        var total = 0
        for second in (endSecond - Int64(min(seconds, Self.windowSeconds)) + 1)...endSecond
        where second <= newestSecond && newestSecond - second < Int64(Self.windowSeconds) {
            total += Int(buckets[Self.slot(second)])
        }
        return total
    }

    private static func slot(_ second: Int64) -> Int {
        Int(((second % Int64(windowSeconds)) + Int64(windowSeconds)) % Int64(windowSeconds))
    }
}
