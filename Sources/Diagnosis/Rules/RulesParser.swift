import Yams

/// Reads a rules file (YAML) into rules, refusing anything it cannot use with a precise error.
///
/// The format is documented in Rules/README.md.
enum RulesParser {
    static let ruleFields = ["id", "category", "priority", "severity", "when", "summary", "explanation", "fix", "references"]
    static let requiredFields = ["id", "category", "summary", "explanation", "fix"]
    static let operators = ["equals", "not_equals", "in", "greater_than", "at_least", "less_than", "at_most", "near", "matches", "contains", "present"]

    static func parse(yaml: String, file: String) throws(RulesError) -> [Rule] {
        try parseFile(yaml: yaml, file: file).rules
    }

    /// A whole rules file: its rules, and the severities it gives categories (`categories:`).
    static func parseFile(yaml: String, file: String) throws(RulesError) -> RulesFile {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw syntaxError(error, file: file)
        } catch {
            throw RulesError(file: file, line: 1, column: 1, message: "cannot read YAML: \(error)")
        }
        guard let root, case .mapping(let top) = root else {
            throw RulesError(file: file, line: 1, column: 1, message: "a rules file is a mapping with a `rules:` list; see Rules/README.md")
        }
        let context = Context(file: file)
        var rulesNode: Node?
        var severities: [(category: String, severity: Severity)] = []
        var settings: RuleSettingsEntries?
        for (key, value) in top {
            switch key.string {
            case "rules": rulesNode = value
            case "categories": severities = try parseCategories(value, context)
            case "settings": settings = try parseSettings(value, context)
            default:
                throw context.error(at: key, "unknown top-level key `\(key.string ?? "?")`; a rules file has only `rules:`, `categories:` and `settings:`")
            }
        }
        if rulesNode == nil, !severities.isEmpty || settings != nil {
            return RulesFile(rules: [], categorySeverities: severities, settings: settings ?? RuleSettingsEntries())
        }
        guard let rulesNode, case .sequence(let list) = rulesNode else {
            throw context.error(at: root, "`rules:` must be a list of rules (each starting with `- id:`)")
        }
        var rules: [Rule] = []
        var firstLine: [String: Int] = [:]
        for node in list {
            let rule = try parseRule(node, context)
            if let earlier = firstLine[rule.id] {
                throw context.error(at: node, "duplicate rule id `\(rule.id)` (first defined on line \(earlier)); give each rule its own id")
            }
            firstLine[rule.id] = rule.origin.line
            rules.append(rule)
        }
        return RulesFile(rules: rules, categorySeverities: severities, settings: settings ?? RuleSettingsEntries())
    }

    static let settingNames = ["close_correlation_window", "redact_evidence"]

    /// `settings:` holds values the rules decide that are not rules (see ``RuleSettings``).
    private static func parseSettings(_ node: Node, _ context: Context) throws(RulesError) -> RuleSettingsEntries {
        guard case .mapping(let mapping) = node else {
            throw context.error(at: node, "`settings:` is a mapping, e.g. `close_correlation_window: 2`")
        }
        var entries = RuleSettingsEntries()
        for (key, value) in mapping {
            switch key.string ?? "" {
            case "close_correlation_window":
                let limit = Int(RuleSettings.maxCloseCorrelationWindow)
                guard case .scalar(let scalar) = value, scalar.style == .plain,
                      let seconds = value.float ?? value.int.map(Double.init), seconds > 0,
                      seconds <= RuleSettings.maxCloseCorrelationWindow else {
                    throw context.error(at: value, "close_correlation_window is a number of seconds above 0 and at most \(limit), e.g. `2`; not `\(value.string ?? "a list or mapping")`")
                }
                entries.closeCorrelationWindow = seconds
            case "redact_evidence":
                guard case .sequence(let items) = value else {
                    throw context.error(at: value, "redact_evidence is a list of fact names, `*` for any run of characters, e.g. [\"close.reason\", \"*.detail\"]")
                }
                var patterns: [String] = []
                for item in items {
                    guard case .scalar(let scalar) = item, !scalar.string.isEmpty else {
                        throw context.error(at: item, "redact_evidence lists fact names, e.g. \"close.reason\" or \"*.detail\"")
                    }
                    let pattern = scalar.string
                    guard FactCatalog.byName.keys.contains(where: { RuleSettings.glob(pattern, matches: $0) }) else {
                        throw context.error(at: item, "redact_evidence: `\(pattern)` matches no fact\(factHint(pattern))")
                    }
                    patterns.append(pattern)
                }
                entries.redactedEvidence = patterns
            default:
                let name = key.string ?? ""
                let hint = closestName(to: name, among: settingNames).map { "; did you mean `\($0)`?" } ?? "; settings are \(settingNames.joined(separator: ", "))"
                throw context.error(at: key, "unknown setting `\(name)`\(hint)")
            }
        }
        return entries
    }

    /// `categories:` maps category names to severities, e.g. `normal: ok`.
    private static func parseCategories(_ node: Node, _ context: Context) throws(RulesError) -> [(category: String, severity: Severity)] {
        guard case .mapping(let mapping) = node else {
            throw context.error(at: node, "`categories:` maps each category to a severity, e.g. `normal: ok`")
        }
        var result: [(category: String, severity: Severity)] = []
        for (key, value) in mapping {
            let category = key.string ?? ""
            guard category.isKebabCase else {
                throw context.error(at: key, "category `\(category)` must be lower-case letters, digits and dashes, like `broken-proxy`")
            }
            result.append((category, try parseSeverity(value, "category `\(category)`", context)))
        }
        return result
    }

    private static func parseSeverity(_ node: Node, _ label: String, _ context: Context) throws(RulesError) -> Severity {
        let names = Severity.allCases.map(\.rawValue)
        guard case .scalar(let scalar) = node, let severity = Severity(rawValue: scalar.string) else {
            throw context.error(at: node, "\(label): severity must be one of \(names.joined(separator: ", ")), not `\(node.string ?? "a list or mapping")`")
        }
        return severity
    }

    struct Context {
        let file: String

        func error(at node: Node?, _ message: String) -> RulesError {
            RulesError(file: file, line: node?.mark?.line ?? 1, column: node?.mark?.column ?? 1, message: message)
        }
    }

    private static func syntaxError(_ error: YamlError, file: String) -> RulesError {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let detail = context.map { "\(problem) \($0.text)" } ?? problem
            return RulesError(file: file, line: mark.line, column: mark.column, message: "YAML syntax: \(detail); check indentation and quoting")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return RulesError(file: file, line: context.mark.line, column: context.mark.column,
                              message: "the same key appears twice in one mapping: \(duplicates.joined(separator: ", "))")
        default:
            return RulesError(file: file, line: 1, column: 1, message: "cannot read YAML: \(error)")
        }
    }

    // MARK: Rules

    private static func parseRule(_ node: Node, _ context: Context) throws(RulesError) -> Rule {
        guard case .mapping(let mapping) = node else {
            throw context.error(at: node, "each rule is a mapping of fields (id, category, when, summary, explanation, fix, references)")
        }
        var fields: [String: (key: Node, value: Node)] = [:]
        for (key, value) in mapping {
            let name = key.string ?? ""
            guard ruleFields.contains(name) else {
                let hint = closestName(to: name, among: ruleFields).map { "; did you mean `\($0)`?" } ?? "; rule fields are \(ruleFields.joined(separator: ", "))"
                throw context.error(at: key, "unknown rule field `\(name)`\(hint)")
            }
            fields[name] = (key, value)
        }
        let id = fields["id"]?.value.string ?? ""
        let label = id.isEmpty ? "rule" : "rule `\(id)`"
        for required in requiredFields where fields[required] == nil {
            throw context.error(at: node, "\(label) has no `\(required)`; every rule needs \(requiredFields.joined(separator: ", "))")
        }
        guard id.isKebabCase else {
            throw context.error(at: fields["id"]!.value, "rule id `\(id)` must be lower-case letters, digits and dashes, like `rate-limit-1008`")
        }
        let category = try scalarString(fields["category"]!.value, field: "category", label, context)
        guard category.isKebabCase, category.first?.isLetter == true else {
            throw context.error(at: fields["category"]!.value, "category `\(category)` must be lower-case letters, digits and dashes, like `broken-proxy`")
        }
        var priority = Rule.defaultPriority
        if let entry = fields["priority"] {
            guard let value = entry.value.int else {
                throw context.error(at: entry.value, "\(label): priority must be a whole number (higher wins; default \(Rule.defaultPriority))")
            }
            priority = value
        }
        let condition = try fields["when"].map { entry throws(RulesError) in try parseCondition(entry.value, context) }
        let summary = try template(fields["summary"]!.value, field: "summary", label, context)
        let fix = try template(fields["fix"]!.value, field: "fix", label, context)
        let explanation = try scalarString(fields["explanation"]!.value, field: "explanation", label, context)
        var references: [String] = []
        if let entry = fields["references"] {
            guard case .sequence(let items) = entry.value else {
                throw context.error(at: entry.value, "\(label): references is a list, e.g. [\"RFC 6455 §7.4.1\"]")
            }
            for item in items { references.append(try scalarString(item, field: "references", label, context)) }
        }
        var severity: Severity?
        if let entry = fields["severity"] { severity = try parseSeverity(entry.value, label, context) }
        return Rule(id: id, category: category, priority: priority, condition: condition, summary: summary,
                    explanation: explanation, fix: fix, references: references, severity: severity,
                    origin: RuleOrigin(file: context.file, line: node.mark?.line ?? 1))
    }

    private static func scalarString(_ node: Node, field: String, _ label: String, _ context: Context) throws(RulesError) -> String {
        guard case .scalar(let scalar) = node else {
            throw context.error(at: node, "\(label): `\(field)` must be text, not a list or mapping")
        }
        return scalar.string
    }

    private static func template(_ node: Node, field: String, _ label: String, _ context: Context) throws(RulesError) -> SummaryTemplate {
        let text = try scalarString(node, field: field, label, context)
        let template: SummaryTemplate
        do {
            template = try SummaryTemplate(text)
        } catch .unknownFilter(let filter) {
            throw context.error(at: node, "\(label): `\(field)` uses unknown filter `|\(filter)`; the only filter is `|quoted`")
        } catch {
            throw context.error(at: node, "\(label): `\(field)` has a `{` without its `}`; write `{fact.name}` to cite a fact, `{{` for a brace")
        }
        for name in template.factNames where FactCatalog.byName[name] == nil {
            throw context.error(at: node, "\(label): `\(field)` cites unknown fact `{\(name)}`\(factHint(name))")
        }
        return template
    }

    private static func factHint(_ name: String) -> String {
        if let close = closestName(to: name, among: FactCatalog.byName.keys) { return "; did you mean `\(close)`?" }
        return "; the facts are listed in Rules/README.md"
    }

    // MARK: Conditions

    private static func parseCondition(_ node: Node, _ context: Context) throws(RulesError) -> Condition {
        guard case .mapping(let mapping) = node else {
            throw context.error(at: node, "a condition is a mapping: `all:`, `any:`, `not:`, or `fact:` with one test such as `equals:`")
        }
        let keys = mapping.map { $0.key.string ?? "" }
        if keys.count == 1, let combinator = keys.first, ["all", "any", "not"].contains(combinator) {
            let value = mapping.first!.value
            if combinator == "not" { return .not(try parseCondition(value, context)) }
            guard case .sequence(let items) = value, !items.isEmpty else {
                throw context.error(at: value, "`\(combinator):` takes a non-empty list of conditions")
            }
            var parts: [Condition] = []
            for item in items { parts.append(try parseCondition(item, context)) }
            return combinator == "all" ? .all(parts) : .any(parts)
        }
        guard let factEntry = mapping.first(where: { $0.key.string == "fact" }) else {
            let unknown = keys.first { !["all", "any", "not"].contains($0) } ?? keys.first ?? ""
            let hint = closestName(to: unknown, among: ["all", "any", "not", "fact"]).map { "; did you mean `\($0)`?" } ?? ""
            throw context.error(at: node, "a condition needs `fact:` and one test, or one of `all:`, `any:`, `not:`; found `\(keys.joined(separator: "`, `"))`\(hint)")
        }
        let name = factEntry.value.string ?? ""
        guard let definition = FactCatalog.byName[name] else {
            throw context.error(at: factEntry.value, "unknown fact `\(name)`\(factHint(name))")
        }
        // `within:` is not a test of its own: it is `near:`'s tolerance.
        let tolerance = mapping.first { $0.key.string == "within" }
        let tests = mapping.filter { $0.key.string != "fact" && $0.key.string != "within" }
        guard tests.count == 1, let test = tests.first else {
            throw context.error(at: node, "fact `\(name)` needs exactly one test: \(operators.joined(separator: ", "))")
        }
        let op = test.key.string ?? ""
        guard operators.contains(op) else {
            let hint = closestName(to: op, among: operators).map { "; did you mean `\($0)`?" } ?? "; tests are \(operators.joined(separator: ", "))"
            throw context.error(at: test.key, "unknown test `\(op)`\(hint)")
        }
        if op == "near" { return .compare(fact: name, try parseNear(test.value, within: tolerance?.value, definition, node, context)) }
        if let tolerance { throw context.error(at: tolerance.key, "`within:` goes with `near:` only, e.g. `near: [60, 100]` and `within: 2`") }
        return .compare(fact: name, try parseComparison(op, test.value, definition, context))
    }

    /// `near: [60, 100]` with `within: 2`: the fact is within 2 of 60 or of 100.
    private static func parseNear(_ node: Node, within: Node?, _ fact: FactDefinition, _ condition: Node,
                                  _ context: Context) throws(RulesError) -> Comparison {
        guard fact.type.isNumeric else {
            throw context.error(at: node, "`near` compares numbers, but `\(fact.name)` is a \(fact.type.rawValue)")
        }
        guard case .sequence(let items) = node, !items.isEmpty else {
            throw context.error(at: node, "`near:` takes a list of numbers, e.g. `near: [60, 100]`")
        }
        var values: [Double] = []
        for item in items {
            guard let number = item.float ?? item.int.map(Double.init), case .scalar = item else {
                throw context.error(at: item, "`near:` takes numbers only, e.g. `near: [60, 100]`")
            }
            values.append(number)
        }
        guard let within else { throw context.error(at: condition, "`near:` needs `within:`, how far off still counts, e.g. `within: 2`") }
        guard let tolerance = within.float ?? within.int.map(Double.init), case .scalar = within, tolerance >= 0 else {
            throw context.error(at: within, "`within:` needs a number of zero or more, e.g. `within: 2`")
        }
        return .near(values, tolerance: tolerance)
    }

    private static func parseComparison(_ op: String, _ node: Node, _ fact: FactDefinition, _ context: Context) throws(RulesError) -> Comparison {
        switch op {
        case "equals", "not_equals":
            guard fact.type != .list else {
                throw context.error(at: node, "`\(fact.name)` is a list; test it with `contains:`")
            }
            let value = try typedValue(node, for: fact, context)
            return op == "equals" ? .equals(value) : .notEquals(value)
        case "in":
            guard case .sequence(let items) = node, !items.isEmpty else {
                throw context.error(at: node, "`in:` takes a list of values, e.g. `in: [1001, 1012]`")
            }
            var values: [FactValue] = []
            for item in items { values.append(try typedValue(item, for: fact, context)) }
            return .oneOf(values)
        case "greater_than", "at_least", "less_than", "at_most":
            guard fact.type.isNumeric else {
                throw context.error(at: node, "`\(op)` compares numbers, but `\(fact.name)` is a \(fact.type.rawValue); use `equals:`\(fact.type == .string ? " or `matches:`" : "")")
            }
            guard let bound = node.float ?? node.int.map(Double.init), case .scalar = node else {
                throw context.error(at: node, "`\(op)` needs a number, e.g. `\(op): 5`")
            }
            switch op {
            case "greater_than": return .greaterThan(bound)
            case "at_least": return .atLeast(bound)
            case "less_than": return .lessThan(bound)
            default: return .atMost(bound)
            }
        case "matches":
            guard fact.type == .string else {
                throw context.error(at: node, "`matches:` applies to text facts, but `\(fact.name)` is a \(fact.type.rawValue)")
            }
            let source = node.string ?? ""
            do {
                return .matches(try RegexPattern(source))
            } catch {
                throw context.error(at: node, "`\(source)` is not a valid regular expression: \(error); quote it in single quotes so YAML leaves backslashes alone")
            }
        case "contains":
            guard fact.type == .list else {
                throw context.error(at: node, "`contains:` applies to list facts, but `\(fact.name)` is a \(fact.type.rawValue); use `equals:` or `matches:`")
            }
            guard case .scalar(let scalar) = node else { throw context.error(at: node, "`contains:` takes one value") }
            return .contains(scalar.string)
        default:
            guard let wanted = node.bool, case .scalar = node else {
                throw context.error(at: node, "`present:` takes true or false")
            }
            return .present(wanted)
        }
    }

    private static func typedValue(_ node: Node, for fact: FactDefinition, _ context: Context) throws(RulesError) -> FactValue {
        guard case .scalar(let scalar) = node else {
            throw context.error(at: node, "expected one value for `\(fact.name)`, not a list or mapping")
        }
        let quoted = scalar.style == .singleQuoted || scalar.style == .doubleQuoted
        switch fact.type {
        case .int:
            guard !quoted, let value = node.int else {
                throw context.error(at: node, "`\(fact.name)` is a whole number; `\(scalar.string)` is not (write it unquoted, e.g. 1008)")
            }
            return .int(Int64(value))
        case .number:
            guard !quoted, let value = node.float ?? node.int.map(Double.init) else {
                throw context.error(at: node, "`\(fact.name)` is a number; `\(scalar.string)` is not")
            }
            return .number(value)
        case .bool:
            guard !quoted, let value = node.bool else {
                throw context.error(at: node, "`\(fact.name)` is true or false; `\(scalar.string)` is neither")
            }
            return .bool(value)
        case .string, .list:
            return .string(scalar.string)
        }
    }
}

/// What one rules file holds.
struct RulesFile {
    var rules: [Rule]
    /// In the order given; a later file's entry for a category replaces an earlier one.
    var categorySeverities: [(category: String, severity: Severity)]
    var settings = RuleSettingsEntries()
}

extension String {
    /// Lower-case letters, digits and dashes, not starting with a dash.
    var isKebabCase: Bool {
        !isEmpty && first != "-" && allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }
}
