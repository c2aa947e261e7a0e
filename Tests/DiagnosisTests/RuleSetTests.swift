import Diagnosis
import Testing
import WebSocketWire

@Suite struct RuleSetTests {
    /// Facts of a connection the server closed with `code` after a clean exchange.
    private func closed(with code: UInt16, reason: String = "") -> FactContext {
        var facts = ConnectionFacts(id: 0, client: Endpoint(address: "10.0.0.1", port: 5000), server: Endpoint(address: "10.0.0.2", port: 80),
                                    opened: Timestamp(nanoseconds: 0), sawTCPOpen: true, sidesGuessed: false)
        facts.carriesWebSocket = true
        facts.serverClose = CloseFacts(code: code, reason: reason, at: Timestamp(nanoseconds: 2_000_000_000), frameIndex: 3, offset: 100)
        facts.clientClose = CloseFacts(code: code, reason: reason, at: Timestamp(nanoseconds: 2_100_000_000), frameIndex: 5, offset: 90)
        return FactContext(facts: facts)
    }

    @Test func highestPriorityWinsAndTiesGoToTheFirstListed() throws {
        let rules = try RuleSet.parse(yaml: """
            rules:
              - id: low
                category: a
                priority: 10
                summary: low
                explanation: e
                fix: f
              - id: high-one
                category: b
                priority: 20
                summary: first
                explanation: e
                fix: f
              - id: high-two
                category: c
                priority: 20
                summary: second
                explanation: e
                fix: f
            """, file: "t.yaml")
        #expect(RuleSet(rules: rules).diagnose(closed(with: 1000)).id == "high-one")
    }

    /// A diagnosis made before `wave.size` is known says whether that fact could change it:
    /// only where a condition got as far as comparing it, or the winner names it.
    @Test func aDiagnosisSaysWhetherItComparedANotedFact() throws {
        let rules = RuleSet(rules: try RuleSet.parse(yaml: """
            rules:
              - id: wave
                category: a
                priority: 20
                when:
                  all:
                    - fact: close.code
                      equals: 1012
                    - fact: wave.size
                      at_least: 3
                summary: wave
                explanation: e
                fix: f
              - id: named
                category: b
                priority: 10
                when:
                  fact: close.code
                  equals: 1001
                summary: "{wave.size} closed"
                explanation: e
                fix: f
              - id: other
                category: c
                priority: 1
                summary: other
                explanation: e
                fix: f
            """, file: "t.yaml"))
        func noted(_ code: UInt16) -> (String, Bool) {
            let (diagnosis, reads) = rules.diagnose(closed(with: code), noting: "wave.size")
            return (diagnosis.id, reads)
        }
        // `all` stops at the close code before it reaches the wave.
        #expect(noted(1000) == ("other", false))
        #expect(noted(1012) == ("other", true))
        #expect(noted(1001) == ("named", true))
        #expect(rules.diagnose(closed(with: 1000), noting: nil).readsNoted == false)
    }

    @Test func userRuleWithTheSameIdReplacesTheDefaultInPlace() throws {
        var set = RuleSet.defaults()
        let position = try #require(set.rules.firstIndex { $0.id == "overload-1013" })
        set.layer(try RuleSet.parse(yaml: """
            rules:
              - id: overload-1013
                category: overload
                priority: 70
                when:
                  fact: close.code
                  equals: 1013
                summary: "Our cluster is full ({close.reason|quoted})"
                explanation: e
                fix: "Page the on-call."
            """, file: "ours.yaml"))
        #expect(set.rules.firstIndex { $0.id == "overload-1013" } == position)
        let diagnosis = set.diagnose(closed(with: 1013, reason: "full"))
        #expect(diagnosis.summary == "Our cluster is full (\"full\")")
        #expect(diagnosis.origin.file == "ours.yaml")
    }

    @Test func newRulesNeedNoSwiftChange() throws {
        var set = RuleSet.defaults()
        set.layer(try RuleSet.parse(yaml: """
            rules:
              - id: game-over
                category: application
                priority: 90
                when:
                  all:
                    - fact: close.code
                      equals: 4100
                    - fact: close.initiator
                      equals: server
                summary: "The game ended for the {close.receiver}."
                explanation: e
                fix: "Start a new game."
            """, file: "game.yaml"))
        let diagnosis = set.diagnose(closed(with: 4100))
        #expect(diagnosis.id == "game-over")
        #expect(diagnosis.summary == "The game ended for the client.")
        #expect(diagnosis.evidence.map(\.fact) == ["close.code", "close.initiator", "close.receiver"])
        #expect(diagnosis.evidence.first?.value == .int(4100))
    }

    @Test func theCatchAllAlwaysAnswers() {
        var facts = closed(with: 1000).facts
        facts.serverClose = CloseFacts(code: 2999, reason: "", at: Timestamp(nanoseconds: 1), frameIndex: 0, offset: 0)
        #expect(RuleSet.defaults().diagnose(FactContext(facts: facts)).id == "unclassified-close")
    }

    @Test func missingFactsReadAsUnknownAndFailTests() throws {
        let rules = try RuleSet.parse(yaml: """
            rules:
              - id: needs-jwt
                category: policy
                when:
                  fact: jwt.expires_after
                  at_least: 0
                summary: "{jwt.source}"
                explanation: e
                fix: f
              - id: no-jwt
                category: policy
                priority: 1
                when:
                  fact: jwt.found
                  equals: false
                summary: "no token ({jwt.source})"
                explanation: e
                fix: f
            """, file: "t.yaml")
        let diagnosis = RuleSet(rules: rules).diagnose(closed(with: 1008))
        #expect(diagnosis.id == "no-jwt" && diagnosis.summary == "no token (unknown)")
    }
}
