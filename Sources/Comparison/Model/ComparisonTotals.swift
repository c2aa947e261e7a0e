/// Counts over everything a comparison handed on, for its summary; kept as it goes, so no
/// pair needs to be held for it.
public struct ComparisonTotals: Sendable {
    public var clock: ClockOffset
    public private(set) var pairs = 0
    public private(set) var onlyNearClient = 0
    public private(set) var onlyNearServer = 0
    private var changes: [Change.Kind: Int] = [:]
    private var categories: [String: Int] = [:]

    public init(clock: ClockOffset) {
        self.clock = clock
    }

    mutating func add(_ pair: PairComparison) {
        pairs += 1
        for change in pair.changes { changes[change.kind, default: 0] += 1 }
        categories[pair.diagnosis.category, default: 0] += 1
    }

    mutating func addUnmatched(foundIn leg: Leg) {
        if leg == .nearClient { onlyNearClient += 1 } else { onlyNearServer += 1 }
    }

    /// Changes by kind, in the documented order of kinds.
    public var changeCounts: [(String, Int)] {
        Change.Kind.allCases.compactMap { kind in changes[kind].map { (kind.rawValue, $0) } }
    }

    /// Pairs by diagnosis category, most frequent first, then by name.
    public var categoryCounts: [(String, Int)] {
        categories.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}
