import Foundation

/// The rules in effect: the defaults, with the user's files layered on top.
public struct RuleSet: Sendable {
    /// In evaluation order: defaults first, then rules the user added.
    public private(set) var rules: [Rule]
    /// Each category's severity (Rules/categories.yaml, then the user's `categories:`).
    public private(set) var categorySeverities: [String: Severity]
    /// The correlation window and the evidence redacted (`settings:`; Rules/default.yaml, then the user's).
    public private(set) var settings: RuleSettings

    public init(rules: [Rule], categorySeverities: [String: Severity]? = nil, settings: RuleSettings? = nil) {
        self.rules = rules
        self.categorySeverities = categorySeverities ?? RuleSet.builtIn.categorySeverities
        self.settings = settings ?? RuleSet.builtIn.settings
    }

    /// The severity a rule's diagnosis has: its own, else its category's.
    public func severity(of rule: Rule) -> Severity {
        rule.severity ?? categorySeverities[rule.category] ?? Severity.unlisted
    }

    /// The rule files built into the binary by scripts/embed-rules: each file's name and text.
    public static var builtInFiles: [(name: String, text: String)] { DefaultRules.files }

    /// The rules shipped with wsdoctor (Rules/*.yaml, built in), parsed once.
    public static func defaults() -> RuleSet { builtIn }

    private static let builtIn: RuleSet = {
        var entries = RuleSettingsEntries()
        var files: [RulesFile] = []
        for (file, text) in DefaultRules.files {
            do {
                let parsed = try RulesParser.parseFile(yaml: text, file: file)
                entries.closeCorrelationWindow = parsed.settings.closeCorrelationWindow ?? entries.closeCorrelationWindow
                entries.redactedEvidence = parsed.settings.redactedEvidence ?? entries.redactedEvidence
                files.append(parsed)
            } catch {
                // A broken built-in file is a build defect; the test suite parses every one.
                preconditionFailure("built-in rules do not parse: \(error)")
            }
        }
        // Rules/default.yaml sets every setting, so no value is decided here.
        guard let window = entries.closeCorrelationWindow, let redacted = entries.redactedEvidence else {
            preconditionFailure("the built-in rules leave a setting unset: \(RulesParser.settingNames)")
        }
        var set = RuleSet(rules: [], categorySeverities: [:],
                          settings: RuleSettings(closeCorrelationWindow: window, redactedEvidence: redacted))
        for file in files { set.layer(file) }
        return set
    }()

    /// Parses a user's rules file.
    public static func parse(yaml: String, file: String) throws(RulesError) -> [Rule] {
        try RulesParser.parse(yaml: yaml, file: file)
    }

    /// Reads and parses a rules file from disk.
    public static func load(file path: String) throws(RulesError) -> [Rule] {
        try loadFile(path).rules
    }

    static func loadFile(_ path: String) throws(RulesError) -> RulesFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "does not exist"
            throw RulesError(file: path, line: 1, column: 1, message: "the rules file \(reason)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw RulesError(file: path, line: 1, column: 1, message: "the rules file is not UTF-8 text")
        }
        return try RulesParser.parseFile(yaml: text, file: path)
    }

    /// The defaults with each of `files` layered on in order.
    public static func loading(files: [String]) throws(RulesError) -> RuleSet {
        var set = RuleSet.defaults()
        for file in files { set.layer(try loadFile(file)) }
        return set
    }

    /// Adds a file's rules (see `layer(_:)` for rules) and its category severities.
    mutating func layer(_ file: RulesFile) {
        layer(file.rules)
        for entry in file.categorySeverities { categorySeverities[entry.category] = entry.severity }
        settings = file.settings.applied(to: settings)
    }

    /// Adds `newRules`: one with the id of an existing rule replaces it in place.
    public mutating func layer(_ newRules: [Rule]) {
        for rule in newRules {
            if let index = rules.firstIndex(where: { $0.id == rule.id }) {
                rules[index] = rule
            } else {
                rules.append(rule)
            }
        }
    }

    /// The diagnosis of one connection: the matching rule with the highest priority,
    /// the first listed among equals.
    public func diagnose(_ context: FactContext) -> ConnectionDiagnosis {
        diagnose(context, noting: nil).diagnosis
    }

    /// The diagnosis, and whether another value of the fact named `noted` could have changed
    /// it: a rule's condition compared that fact on the way, or the winning rule names it in
    /// its evidence, summary or fix. Lets a diagnosis be made before that fact is known.
    public func diagnose(_ context: FactContext, noting noted: String?) -> (diagnosis: ConnectionDiagnosis, readsNoted: Bool) {
        let facts = FactCatalog.values(for: context)
        var winner: Rule?
        var readsNoted = false
        let judgingEpisode = context.reconnect != nil
        for rule in rules where rule.judgesReconnects == judgingEpisode {
            guard rule.condition?.holds(in: facts, noting: noted ?? "", compared: &readsNoted) ?? true else { continue }
            if winner == nil || rule.priority > winner!.priority { winner = rule }
        }
        guard let rule = winner else { return (Self.unclassified(facts), readsNoted) }
        var names = rule.condition?.factNames ?? []
        for name in rule.summary.factNames where !names.contains(name) { names.append(name) }
        if let noted, names.contains(noted) || rule.fix.factNames.contains(noted) { readsNoted = true }
        let evidence = names.compactMap { name in facts[name].map { ConnectionDiagnosis.Evidence(fact: name, value: $0, redacted: settings.redacts(fact: name)) } }
        return (ConnectionDiagnosis(id: rule.id, category: rule.category, summary: rule.summary.render(facts),
                                    explanation: rule.explanation, fix: rule.fix.render(facts), references: rule.references,
                                    evidence: evidence, origin: rule.origin, severity: severity(of: rule)), readsNoted)
    }

    /// What is said when user rules replaced the catch-all and nothing matched.
    private static func unclassified(_ facts: [String: FactValue]) -> ConnectionDiagnosis {
        ConnectionDiagnosis(id: "unclassified", category: "unknown", summary: "no rule matched this connection",
                            explanation: "None of the rules in effect applies; the default rules end with a catch-all that was replaced.",
                            fix: "Add a rule for this situation, or keep a rule without `when:` last.", references: [],
                            evidence: [], origin: RuleOrigin(file: "built-in", line: 0))
    }
}
