import Diagnosis
import Foundation
import Testing

/// A diagnosis's severity comes from its rule, else from its category (Rules/categories.yaml).
@Suite struct SeverityTests {
    @Test func categoriesFileGivesTheDefaults() {
        #expect(replayFixture("normal-1000.pcap").connections.first?.diagnosis.severity == .ok)
        #expect(replayFixture("protocol-error-1002.pcap").connections.first?.diagnosis.severity == .error)
        #expect(replayFixture("still-open.pcap").connections.first?.diagnosis.severity == .info)
        let rules = RuleSet.defaults()
        for rule in rules.rules {
            #expect(rules.categorySeverities[rule.category] != nil, "Rules/categories.yaml lacks \(rule.category)")
        }
    }

    @Test func aRuleOrAUserFileOverridesIt() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wsdoctor-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("mine.yaml")
        try """
            categories:
              normal: warning
            rules:
              - id: mine
                category: brand-new
                severity: error
                summary: "s"
                explanation: "e"
                fix: "f"
            """.write(to: file, atomically: true, encoding: .utf8)
        let rules = try RuleSet.loading(files: [file.path])
        #expect(rules.categorySeverities["normal"] == .warning)
        let mine = try #require(rules.rules.first { $0.id == "mine" })
        #expect(rules.severity(of: mine) == .error)
        let categoryOnly = directory.appendingPathComponent("categories.yaml")
        try "categories:\n  brand-new: info\n".write(to: categoryOnly, atomically: true, encoding: .utf8)
        #expect(try RuleSet.loading(files: [categoryOnly.path]).categorySeverities["brand-new"] == .info)
    }

    @Test func aBadSeverityIsRefusedWithItsLine() {
        #expect {
            _ = try RuleSet.parse(yaml: "categories:\n  normal: fine\n", file: "bad.yaml")
        } throws: { error in
            let text = "\(error)"
            return text.contains("bad.yaml:2") && text.contains("severity must be one of ok, info, warning, error, not `fine`")
        }
        #expect {
            _ = try RuleSet.parse(yaml: """
                rules:
                  - id: x
                    category: normal
                    severity: [bad]
                    summary: "s"
                    explanation: "e"
                    fix: "f"
                """, file: "bad.yaml")
        } throws: { error in "\(error)".contains("bad.yaml:4") && "\(error)".contains("rule `x`: severity must be one of") }
    }
}
