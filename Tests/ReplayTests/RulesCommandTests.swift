import Foundation
import Testing

/// `wsdoctor rules`, `wsdoctor explain` and `--rules` as a user runs them.
@Suite struct RulesCommandTests {
    private func temporaryFile(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("rules-\(UUID().uuidString).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private let override = """
        rules:
          - id: content-policy
            category: policy
            priority: 78
            when:
              all:
                - fact: close.code
                  equals: 1008
                - fact: close.reason
                  matches: '(?i)policy'
            summary: "Our moderation bot kicked the {close.receiver} ({close.reason|quoted})."
            explanation: "The chat server's moderation closes with 1008."
            fix: "Check the moderation log."
        """

    @Test func checkAcceptsAGoodFileAndRefusesABadOneWithItsPosition() throws {
        let good = try temporaryFile(override)
        let bad = try temporaryFile(override.replacingOccurrences(of: "fact: close.reason", with: "fact: close.reasn"))
        defer { try? FileManager.default.removeItem(atPath: good); try? FileManager.default.removeItem(atPath: bad) }
        let ok = try runWSDoctor(["rules", "check", good])
        #expect(ok.status == 0 && ok.stdout.contains("1 rule, OK"))
        let failed = try runWSDoctor(["rules", "check", good, bad])
        #expect(failed.status == 1)
        #expect(failed.stderr == "\(bad):9:17: unknown fact `close.reasn`; did you mean `close.reason`?\n")
    }

    @Test func userRulesReplaceDefaultsInReplay() throws {
        let file = try temporaryFile(override)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let result = try runWSDoctor(["replay", "--rules", file, fixturePath("policy-1008.pcap")])
        #expect(result.status == 0)
        #expect(result.stdout.contains("diagnosis  policy: Our moderation bot kicked the client (\"policy violation\")."))
        #expect(result.stdout.contains("rule       content-policy (\(file):2)"))
        let list = try runWSDoctor(["rules", "list", "--rules", file])
        #expect(list.stdout.contains("content-policy") && list.stdout.contains(file))
    }

    @Test func brokenRulesFileStopsReplayWithOneLine() throws {
        let file = try temporaryFile("rules:\n  - id: x\n")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let result = try runWSDoctor(["replay", "--rules", file, fixturePath("normal-1000.pcap")])
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.split(separator: "\n").count == 1 && result.stderr.contains("\(file):2:5: rule `x` has no `category`"))
    }

    @Test func aBadSettingStopsReplayWithOneLineNamingItsPlace() throws {
        let file = try temporaryFile("settings:\n  close_correlation_window: -1\n")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let result = try runWSDoctor(["replay", "--rules", file, fixturePath("normal-1000.pcap")])
        #expect(result.status == 2 && result.stdout.isEmpty)
        #expect(result.stderr == "wsdoctor: \(file):2:29: close_correlation_window is a number of seconds above 0 and at most 3600, e.g. `2`; not `-1`\n")
    }

    @Test func everyCommandReadingRulesRefusesABadFileInOneLine() throws {
        let file = try temporaryFile("settings:\n  redact_evidence: [close.reasn]\n")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let wanted = "wsdoctor: \(file):2:21: redact_evidence: `close.reasn` matches no fact; did you mean `close.reason`?\n"
        for arguments in [["rules", "list", "--rules", file], ["explain", "1008", "--rules", file],
                          ["replay", "--rules", file, fixturePath("normal-1000.pcap")]] {
            let result = try runWSDoctor(arguments)
            #expect(result.status == 2 && result.stdout.isEmpty && result.stderr == wanted, "\(arguments): \(result.stderr)")
        }
    }

    @Test func explainListsCodesAndTheRulesForOne() throws {
        let all = try runWSDoctor(["explain"])
        for code in ["1000", "1006", "1015", "3000–3999", "4000–4999"] { #expect(all.stdout.contains(code)) }
        let one = try runWSDoctor(["explain", "1013"])
        #expect(one.stdout.hasPrefix("1013 Try Again Later"))
        #expect(one.stdout.contains("exponential backoff"))
        #expect(one.stdout.contains("overload-1013"))
    }

    @Test func replayReportsDiagnosisInTextAndJSON() throws {
        let text = try runWSDoctor(["replay", fixturePath("try-again-1013.pcap")])
        #expect(text.stdout.contains("diagnosis  overload: The server closed with 1013 Try Again Later (\"try again later\")"))
        #expect(text.stdout.contains("fix        Reconnect with exponential backoff"))
        #expect(text.stdout.contains("by diagnosis: overload 1"))
        let json = try runWSDoctor(["replay", "--format", "json", fixturePath("diag-rate-limit-1008.pcap")])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.split(separator: "\n")[0].utf8)) as? [String: Any])
        let diagnosis = try #require(object["diagnosis"] as? [String: Any])
        #expect(diagnosis["id"] as? String == "rate-limit")
        #expect(diagnosis["category"] as? String == "policy")
        #expect((diagnosis["summary"] as? String)?.contains("messages/s") == true)
        #expect(diagnosis["fix"] is String)
        let evidence = try #require(diagnosis["evidence"] as? [String: Any])
        #expect(evidence["close.code"] as? Int == 1008)
        #expect(evidence["peer.rate_before_close"] is Double || evidence["peer.rate_before_close"] is Int)
    }
}
