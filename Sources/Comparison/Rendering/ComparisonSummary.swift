/// Counts over all pairs, in a stable order.
enum ComparisonSummary {
    /// Changes by kind, in the documented order of kinds.
    static func changeCounts(_ comparison: CaptureComparison) -> [(String, Int)] {
        Change.Kind.allCases.compactMap { kind in
            let count = comparison.pairs.reduce(0) { $0 + $1.changes.filter { $0.kind == kind }.count }
            return count > 0 ? (kind.rawValue, count) : nil
        }
    }

    /// Pairs by diagnosis category, most frequent first, then by name.
    static func categoryCounts(_ comparison: CaptureComparison) -> [(String, Int)] {
        var counts: [String: Int] = [:]
        for pair in comparison.pairs { counts[pair.diagnosis.category, default: 0] += 1 }
        return counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}
