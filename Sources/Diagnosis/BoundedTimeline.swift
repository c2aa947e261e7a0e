/// A connection's timeline within `maxTimelineEntries`: the first half of the bound as it
/// came, then a ring of the latest entries over the other half, so a long connection keeps
/// both how it began and how it ended (its close and the frames before it). What falls
/// between the two is counted, not kept.
public struct BoundedTimeline: Sendable {
    public let capacity: Int
    /// The first entries, up to `headCapacity`.
    private var head: [TimelineEntry] = []
    /// The latest entries after the head, up to `tailCapacity`; the oldest at `ringStart`
    /// once full.
    private var ring: [TimelineEntry] = []
    private var ringStart = 0
    /// Entries dropped from the middle, between the head and the ring.
    public private(set) var notKept = 0
    /// Whether entries past the head replace the oldest of the ring (true) or are dropped.
    public let keepsLatest: Bool

    public init(capacity: Int, keepsLatest: Bool = true) {
        self.capacity = max(0, capacity)
        self.keepsLatest = keepsLatest
    }

    private var headCapacity: Int { keepsLatest ? capacity - capacity / 2 : capacity }
    private var tailCapacity: Int { capacity - headCapacity }

    public var count: Int { head.count + ring.count }

    /// Where the entries not kept belong in `entries`: between the head and the tail, or nil
    /// when nothing was dropped.
    public var gap: Int? { notKept > 0 ? head.count : nil }

    /// Every kept entry, oldest first.
    public var entries: [TimelineEntry] { head + orderedRing }

    /// The first `length` kept entries.
    public func prefix(_ length: Int) -> [TimelineEntry] {
        let fromHead = Array(head.prefix(length))
        return fromHead.count == length ? fromHead : fromHead + orderedRing.prefix(length - fromHead.count)
    }

    /// The last `length` kept entries.
    public func suffix(_ length: Int) -> [TimelineEntry] {
        let fromRing = Array(orderedRing.suffix(length))
        return fromRing.count == length ? fromRing : head.suffix(length - fromRing.count) + fromRing
    }

    private var orderedRing: ArraySlice<TimelineEntry> {
        ringStart == 0 ? ring[...] : ArraySlice(ring[ringStart...] + ring[..<ringStart])
    }

    public mutating func append(_ entry: TimelineEntry) {
        if head.count < headCapacity {
            head.append(entry)
        } else if ring.count < tailCapacity {
            ring.append(entry)
        } else if tailCapacity > 0 {
            ring[ringStart] = entry
            ringStart = (ringStart + 1) % tailCapacity
            notKept += 1
        } else {
            notKept += 1
        }
    }

    /// Forgets the kept entries; the count of those not kept stays.
    public mutating func removeAll() {
        head.removeAll(keepingCapacity: true)
        ring.removeAll(keepingCapacity: true)
        ringStart = 0
    }
}
