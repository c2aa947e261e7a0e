/// The value of one named fact, as rules compare it.
public enum FactValue: Sendable, Hashable, CustomStringConvertible {
    case int(Int64)
    case number(Double)
    case string(String)
    case bool(Bool)
    case list([String])

    public var type: FactType {
        switch self {
        case .int: return .int
        case .number: return .number
        case .string: return .string
        case .bool: return .bool
        case .list: return .list
        }
    }

    /// Numbers compare across `int` and `number`.
    public var numeric: Double? {
        switch self {
        case .int(let value): return Double(value)
        case .number(let value): return value
        case .string, .bool, .list: return nil
        }
    }

    /// How the value reads in a summary or evidence line.
    public var description: String {
        switch self {
        case .int(let value): return String(value)
        case .number(let value): return Self.format(value)
        case .string(let value): return value
        case .bool(let value): return value ? "true" : "false"
        case .list(let values): return values.isEmpty ? "none" : values.joined(separator: ", ")
        }
    }

    /// Whole numbers plainly; two significant digits below 1 (0.00042); fewer decimals as values grow.
    static func format(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e12 { return String(Int64(value)) }
        let magnitude = abs(value)
        var digits = magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : 2
        if magnitude < 1 {
            var scaled = magnitude
            digits = 0
            while scaled < 10 && digits < 9 {
                scaled *= 10
                digits += 1
            }
            digits = max(digits, 2)
        }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        return rounded == rounded.rounded() ? String(Int64(rounded)) : String(rounded)
    }
}

/// The kinds of values facts have; rule conditions are checked against them.
public enum FactType: String, Sendable, Hashable, CaseIterable {
    case int, number, string, bool, list

    /// Whether a value of `other` can stand where this type is expected.
    func accepts(_ other: FactType) -> Bool {
        switch (self, other) {
        case (.int, .int), (.number, .number), (.number, .int), (.int, .number), (.string, .string), (.bool, .bool), (.list, .list):
            return true
        case (.list, .string):
            return true  // membership: `contains`
        default:
            return false
        }
    }

    var isNumeric: Bool { self == .int || self == .number }
}
