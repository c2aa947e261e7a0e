import Diagnosis
import Testing

@Suite struct RulesParserTests {
    private func error(_ yaml: String) -> RulesError? {
        do {
            _ = try RuleSet.parse(yaml: yaml, file: "mine.yaml")
            return nil
        } catch {
            return error
        }
    }

    private let valid = """
        rules:
          - id: slow-consumer
            category: policy
            priority: 70
            when:
              all:
                - fact: close.code
                  equals: 4002
                - fact: close.reason
                  matches: '(?i)slow'
            summary: "closed {close.code} {close.reason|quoted}"
            explanation: "why"
            fix: "do {close.receiver} things"
            references: ["RFC 6455 §7.4.2"]
        """

    @Test func aValidFileParses() throws {
        let rules = try RuleSet.parse(yaml: valid, file: "mine.yaml")
        #expect(rules.map(\.id) == ["slow-consumer"])
        #expect(rules[0].priority == 70 && rules[0].category == "policy")
        #expect(rules[0].origin == RuleOrigin(file: "mine.yaml", line: 2))
        #expect(rules[0].concerns(closeCode: 4002) && !rules[0].concerns(closeCode: 1000))
    }

    @Test func unknownFactIsNamedWithASuggestion() throws {
        let e = try #require(error(valid.replacingOccurrences(of: "fact: close.code", with: "fact: close.cod")))
        #expect(e.file == "mine.yaml" && e.line == 7 && e.column == 17)
        #expect(e.message.contains("unknown fact `close.cod`") && e.message.contains("did you mean `close.code`?"))
    }

    @Test func wrongTypeIsRefused() throws {
        let e = try #require(error(valid.replacingOccurrences(of: "equals: 4002", with: "equals: \"4002\"")))
        #expect(e.line == 8)
        #expect(e.message.contains("`close.code` is a whole number"))
        let numeric = try #require(error(valid.replacingOccurrences(of: "matches: '(?i)slow'", with: "at_least: 3")))
        #expect(numeric.message.contains("compares numbers, but `close.reason` is a string"))
    }

    @Test func nearNeedsNumbersAndATolerance() throws {
        let near = valid.replacingOccurrences(of: "equals: 4002", with: "near: [60, 100]\n          within: 2")
        let rules = try RuleSet.parse(yaml: near, file: "mine.yaml")
        guard case .all(let parts)? = rules[0].condition, case .compare(_, .near(let values, let tolerance)) = parts[0] else {
            Issue.record("`near:` with `within:` parses as one test")
            return
        }
        #expect(values == [60, 100] && tolerance == 2)
        let idle = Condition.compare(fact: "tcp.idle_before_end", .near(values, tolerance: tolerance))
        #expect(idle.holds(in: ["tcp.idle_before_end": .number(101.5)]) && idle.holds(in: ["tcp.idle_before_end": .number(58)]))
        #expect(!idle.holds(in: ["tcp.idle_before_end": .number(63)]) && !idle.holds(in: [:]))
        let noTolerance = try #require(error(valid.replacingOccurrences(of: "equals: 4002", with: "near: [60, 100]")))
        #expect(noTolerance.line == 7 && noTolerance.message.contains("`near:` needs `within:`"))
        let stray = try #require(error(valid.replacingOccurrences(of: "equals: 4002", with: "equals: 4002\n          within: 2")))
        #expect(stray.line == 9 && stray.message.contains("`within:` goes with `near:` only"))
        let text = try #require(error(valid.replacingOccurrences(of: "matches: '(?i)slow'", with: "near: [1]\n          within: 1")))
        #expect(text.message.contains("`near` compares numbers"))
    }

    @Test func badRegexIsRefused() throws {
        let e = try #require(error(valid.replacingOccurrences(of: "'(?i)slow'", with: "'(unclosed'")))
        #expect(e.line == 10 && e.message.contains("not a valid regular expression"))
    }

    @Test func duplicateIdPointsAtBothDefinitions() throws {
        let doubled = valid + "\n" + valid.split(separator: "\n").dropFirst().joined(separator: "\n")
        let e = try #require(error(doubled))
        #expect(e.line == 15)
        #expect(e.message.contains("duplicate rule id `slow-consumer` (first defined on line 2)"))
    }

    @Test func missingFieldIsNamed() throws {
        let e = try #require(error(valid.replacingOccurrences(of: "    fix: \"do {close.receiver} things\"\n", with: "")))
        #expect(e.line == 2 && e.message.contains("has no `fix`"))
    }

    @Test func misspeltFieldIsCaught() throws {
        let e = try #require(error(valid.replacingOccurrences(of: "summary:", with: "sumary:")))
        #expect(e.line == 11 && e.message.contains("unknown rule field `sumary`; did you mean `summary`?"))
    }

    @Test func unknownTestAndMalformedConditions() throws {
        let test = try #require(error(valid.replacingOccurrences(of: "equals: 4002", with: "equal: 4002")))
        #expect(test.message.contains("unknown test `equal`; did you mean `equals`?"))
        let combinator = try #require(error(valid.replacingOccurrences(of: "all:", with: "alll:")))
        #expect(combinator.message.contains("did you mean `all`?"))
        let twoTests = try #require(error(valid.replacingOccurrences(of: "equals: 4002", with: "equals: 4002\n          at_least: 1")))
        #expect(twoTests.message.contains("needs exactly one test"))
    }

    @Test func templatesMayOnlyCiteKnownFacts() throws {
        let e = try #require(error(valid.replacingOccurrences(of: "{close.receiver}", with: "{close.recever}")))
        #expect(e.line == 13 && e.message.contains("unknown fact `{close.recever}`; did you mean `close.receiver`?"))
        let unclosed = try #require(error(valid.replacingOccurrences(of: "{close.receiver}", with: "{close.receiver")))
        #expect(unclosed.message.contains("without its `}`"))
        let filter = try #require(error(valid.replacingOccurrences(of: "|quoted", with: "|upper")))
        #expect(filter.message.contains("unknown filter `|upper`"))
    }

    @Test func yamlSyntaxErrorsHaveAPosition() throws {
        let e = try #require(error("rules:\n  - id: x\n    category: [unclosed\n"))
        #expect(e.line >= 3 && e.message.hasPrefix("YAML syntax"))
        #expect(e.description.hasPrefix("mine.yaml:\(e.line):\(e.column): "))
    }

    @Test func fileMustBeARulesList() throws {
        #expect(try #require(error("- id: x")).message.contains("mapping with a `rules:` list"))
        #expect(try #require(error("rulez: []")).message.contains("unknown top-level key `rulez`"))
    }

    @Test func idsAndCategoriesAreKebabCase() throws {
        #expect(try #require(error(valid.replacingOccurrences(of: "id: slow-consumer", with: "id: Slow Consumer"))).message.contains("lower-case"))
        #expect(try #require(error(valid.replacingOccurrences(of: "category: policy", with: "category: Policy"))).message.contains("lower-case"))
    }

    @Test func settingsAreReadAndEachBadValueIsRefusedAtItsLine() throws {
        let settings = "settings:\n  close_correlation_window: 0.5\n  redact_evidence: [\"close.reason\", \"*.detail\"]\n"
        #expect(try RuleSet.parse(yaml: settings, file: "mine.yaml").isEmpty)
        for (value, wanted) in [("0", "above 0 and at most 3600"), ("3601", "above 0 and at most 3600"), ("'2'", "not `2`"),
                                ("two", "not `two`"), ("[2]", "not `a list or mapping`")] {
            let e = try #require(error("settings:\n  close_correlation_window: \(value)\n"))
            #expect(e.line == 2 && e.message.contains(wanted), "\(value): \(e)")
            #expect(e.description.hasPrefix("mine.yaml:2:"))
        }
        let typo = try #require(error("settings:\n  close_correlation_windw: 2\n"))
        #expect(typo.line == 2 && typo.message == "unknown setting `close_correlation_windw`; did you mean `close_correlation_window`?")
        let noFact = try #require(error("settings:\n  redact_evidence:\n    - close.reason\n    - close.reasn\n"))
        #expect(noFact.line == 4 && noFact.message.contains("`close.reasn` matches no fact; did you mean `close.reason`?"))
        let notAList = try #require(error("settings:\n  redact_evidence: close.reason\n"))
        #expect(notAList.line == 2 && notAList.message.contains("is a list of fact names"))
    }

    @Test func redactionPatternsMatchWholeNamesWithStarForAnyRun() {
        let settings = RuleSettings(closeCorrelationWindow: 2, redactedEvidence: ["close.reason", "*.detail", "peer.*.offset"])
        #expect(settings.redacts(fact: "close.reason") && !settings.redacts(fact: "close.reason_length"))
        #expect(settings.redacts(fact: "close.violation.detail") && settings.redacts(fact: "peer.invalid_utf8.detail"))
        #expect(!settings.redacts(fact: "close.violation.details") && !settings.redacts(fact: "close.code"))
        #expect(settings.redacts(fact: "peer.violation.offset") && !settings.redacts(fact: "close.violation.offset"))
    }

    @Test func missingFileIsAClearError() {
        #expect(throws: RulesError.self) { try RuleSet.load(file: "/nonexistent/rules.yaml") }
    }
}

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
