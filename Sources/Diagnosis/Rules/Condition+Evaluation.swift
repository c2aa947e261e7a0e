extension Condition {
    /// Whether the condition holds. A comparison on a fact with no value is false, except
    /// `present: false`.
    public func holds(in facts: [String: FactValue]) -> Bool {
        var unused = false
        return holds(in: facts, noting: "", compared: &unused)
    }

    /// `holds(in:)`, also setting `compared` when the evaluation (stopping where it stops)
    /// compares `fact`: if it does not, the outcome is the same whatever that fact's value.
    func holds(in facts: [String: FactValue], noting fact: String, compared: inout Bool) -> Bool {
        switch self {
        case .all(let parts): return parts.allSatisfy { $0.holds(in: facts, noting: fact, compared: &compared) }
        case .any(let parts): return parts.contains { $0.holds(in: facts, noting: fact, compared: &compared) }
        case .not(let inner): return !inner.holds(in: facts, noting: fact, compared: &compared)
        case .compare(let name, let comparison):
            if name == fact { compared = true }
            return comparison.holds(for: facts[name])
        }
    }
}

extension Comparison {
    func holds(for value: FactValue?) -> Bool {
        if case .present(let wanted) = self { return (value != nil) == wanted }
        guard let value else { return false }
        switch self {
        case .equals(let expected): return Self.same(value, expected)
        case .notEquals(let expected): return !Self.same(value, expected)
        case .oneOf(let options): return options.contains { Self.same(value, $0) }
        case .greaterThan(let bound): return value.numeric.map { $0 > bound } ?? false
        case .atLeast(let bound): return value.numeric.map { $0 >= bound } ?? false
        case .lessThan(let bound): return value.numeric.map { $0 < bound } ?? false
        case .atMost(let bound): return value.numeric.map { $0 <= bound } ?? false
        case .near(let values, let tolerance): return value.numeric.map { number in values.contains { abs(number - $0) <= tolerance } } ?? false
        case .matches(let pattern):
            if case .string(let text) = value { return pattern.matches(text) }
            return false
        case .contains(let item):
            if case .list(let items) = value { return items.contains(item) }
            return false
        case .present: return true
        }
    }

    private static func same(_ value: FactValue, _ expected: FactValue) -> Bool {
        if let left = value.numeric, let right = expected.numeric { return left == right }
        return value == expected
    }
}
