import WebSocketWire

/// The times of one side's most recent messages, for its rate just before a close.
///
/// A fixed ring of 128 entries, allocated on the first message: O(1) per message and at most
/// 1 KiB per side, however busy the connection. 128 counts any rate up to 128 messages/s
/// exactly over the one-second window the facts use; faster senders are measured over
/// their last 128 messages.
public struct RecentMessageTimes: Sendable, Hashable {
    public static let capacity = 128

    private var storage: [Timestamp] = []
    private var next = 0

    public init() {}

    public mutating func record(_ time: Timestamp) {
        if storage.count < Self.capacity {
            storage.append(time)
        } else {
            storage[next] = time
            next = (next + 1) % Self.capacity
        }
    }

    /// `record(time)` done `count` times.
    public mutating func record(_ time: Timestamp, times count: Int) {
        var left = count
        while left > 0 && storage.count < Self.capacity {
            storage.append(time)
            left -= 1
        }
        if left >= Self.capacity {
            // Every slot is overwritten; only where the next write goes still depends on `left`.
            for index in storage.indices { storage[index] = time }
            next = (next + left) % Self.capacity
            return
        }
        for _ in 0..<left { record(time) }
    }

    /// Messages per second over the `window` seconds up to `end`.
    public func rate(overLast window: Double, endingAt end: Timestamp) -> Double {
        let start = end.adding(seconds: -window)
        let inWindow = storage.filter { $0 > start && $0 <= end }
        if inWindow.count == Self.capacity, let oldest = inWindow.min(), end > oldest {
            return Double(inWindow.count) / end.seconds(since: oldest)
        }
        return Double(inWindow.count) / window
    }

    /// Messages in the `window` seconds up to `end` (at most `capacity`).
    public func count(overLast window: Double, endingAt end: Timestamp) -> Int {
        let start = end.adding(seconds: -window)
        return storage.reduce(0) { $0 + ($1 > start && $1 <= end ? 1 : 0) }
    }
}
