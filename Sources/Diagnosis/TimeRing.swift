/// The most recent timestamps, up to a fixed count, oldest first.
///
/// A ring so that recording a message is O(1) however long the window.
public struct TimeRing: Sendable, Hashable {
    public let capacity: Int
    private var storage: [Timestamp] = []
    private var next = 0

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    public mutating func append(_ time: Timestamp) {
        if storage.count < capacity {
            storage.append(time)
        } else {
            storage[next] = time
            next = (next + 1) % capacity
        }
    }

    public var count: Int { storage.count }

    /// The kept times, oldest first.
    public var times: [Timestamp] {
        Array(storage[next...] + storage[..<next])
    }
}
