/// One diagnosis rule: when its condition holds over a connection's facts, it names the cause.
public struct Rule: Sendable {
    public var id: String
    public var category: String
    /// Higher wins when several rules match; ties go to the rule listed first.
    public var priority: Int
    /// `nil` matches every connection (the catch-all).
    public var condition: Condition?
    public var summary: SummaryTemplate
    public var explanation: String
    public var fix: SummaryTemplate
    public var references: [String]
    /// The rule's own severity; `nil` leaves it to the category's (`categories:`).
    public var severity: Severity?
    /// Whether one of the rule's `close.code` tests accepts `code` (for `wsdoctor explain`).
    public func concerns(closeCode code: UInt16) -> Bool {
        condition?.testsCloseCode(code) ?? false
    }
    public var origin: RuleOrigin
    /// Whether the rule judges reconnect episodes (its condition names a `reconnect.*` fact)
    /// rather than connections.
    public var judgesReconnects: Bool { condition?.namesFact(withPrefix: "reconnect.") ?? false }

    /// Default priority when a rule names none.
    public static let defaultPriority = 50
}

/// Where a rule was defined.
public struct RuleOrigin: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int

    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }

    public var description: String { "\(file):\(line)" }
}

/// A test over facts, combined with all/any/not.
public indirect enum Condition: Sendable {
    case all([Condition])
    case any([Condition])
    case not(Condition)
    case compare(fact: String, Comparison)

    /// Every fact the condition names, in order of first mention.
    public var factNames: [String] {
        var names: [String] = []
        func visit(_ condition: Condition) {
            switch condition {
            case .all(let parts), .any(let parts): parts.forEach(visit)
            case .not(let inner): visit(inner)
            case .compare(let fact, _): if !names.contains(fact) { names.append(fact) }
            }
        }
        visit(self)
        return names
    }

    func namesFact(withPrefix prefix: String) -> Bool {
        switch self {
        case .all(let parts), .any(let parts): return parts.contains { $0.namesFact(withPrefix: prefix) }
        case .not(let inner): return inner.namesFact(withPrefix: prefix)
        case .compare(let fact, _): return fact.hasPrefix(prefix)
        }
    }

    func testsCloseCode(_ code: UInt16) -> Bool {
        switch self {
        case .all(let parts), .any(let parts): return parts.contains { $0.testsCloseCode(code) }
        case .not: return false
        case .compare(let fact, let comparison): return fact == "close.code" && comparison.holds(for: .int(Int64(code)))
        }
    }
}

/// How one fact is tested.
public enum Comparison: Sendable {
    case equals(FactValue)
    case notEquals(FactValue)
    case oneOf([FactValue])
    case greaterThan(Double)
    case atLeast(Double)
    case lessThan(Double)
    case atMost(Double)
    /// Within `tolerance` of one of `values` (`near:` with `within:`).
    case near([Double], tolerance: Double)
    /// Regular expression searched in a string fact (anywhere; anchor with ^ and $).
    case matches(RegexPattern)
    /// A list fact contains the string.
    case contains(String)
    /// The fact has a value (`true`) or has none (`false`).
    case present(Bool)
}

/// A compiled regular expression with its source text.
public struct RegexPattern: @unchecked Sendable {
    // Regex is immutable once built; it is only read after loading.
    public let source: String
    let regex: Regex<AnyRegexOutput>

    public init(_ source: String) throws {
        self.source = source
        self.regex = try Regex(source)
    }

    func matches(_ text: String) -> Bool {
        (try? regex.firstMatch(in: text)) != nil
    }
}
