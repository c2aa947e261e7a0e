import Foundation
import Testing

/// `wsdoctor replay` on a capture whose upgrade request carries `?pw=`: the password is
/// printed in no format, unless the user asks; and the user can add names of their own.
@Suite struct RedactionCommandTests {
    /// `diag-jwt-query-expired-1008.pcap` with the request's `access_token=` (13 bytes) replaced
    /// by `replacement` (also 13 bytes), so no TCP length or sequence number changes.
    static func captureWithQuery(_ replacement: String) throws -> String {
        let original = Array("access_token=".utf8), new = Array(replacement.utf8)
        precondition(new.count == original.count)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixturePath("diag-jwt-query-expired-1008.pcap"))))
        let start = try #require(bytes.indices.first { bytes[$0...].starts(with: original) })
        bytes.replaceSubrange(start..<start + new.count, with: new)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("query-\(UUID().uuidString).pcap").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func aPasswordInTheQueryIsRedactedInTextAndJSON() throws {
        let path = try Self.captureWithQuery("pw=hunter2&a=")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let text = try runWSDoctor(["replay", "--frames", path])
        #expect(text.status == 0, "stderr: \(text.stderr)")
        #expect(text.stdout.contains("handshake  GET /stream?pw=REDACTED&a=REDACTED  → 101"))
        #expect(text.stdout.contains("c→s GET /stream?pw=REDACTED&a=REDACTED HTTP/1.1"))
        let json = try runWSDoctor(["replay", "--format", "json", path])
        #expect(json.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.split(separator: "\n")[0].utf8)) as? [String: Any])
        #expect((object["handshake"] as? [String: Any])?["path"] as? String == "/stream?pw=REDACTED&a=REDACTED")
        for output in [text.stdout, json.stdout] {
            #expect(!output.contains("hunter2"))
            #expect(!output.contains("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"))
        }
    }

    @Test func showSecretsPrintsThePassword() throws {
        let path = try Self.captureWithQuery("pw=hunter2&a=")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try runWSDoctor(["replay", "--show-secrets", path])
        #expect(result.stdout.contains("GET /stream?pw=hunter2&a=eyJ"))
    }

    @Test func redactAddsNamesFromTheFlagOrTheEnvironment() throws {
        let path = try Self.captureWithQuery("room=42&pw=x&")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let plain = try runWSDoctor(["replay", path])
        #expect(plain.stdout.contains("GET /stream?room=42&pw=REDACTED&REDACTED"))
        let flagged = try runWSDoctor(["replay", "--redact", "ROOM", "--redact", "other", path])
        #expect(flagged.status == 0)
        #expect(flagged.stdout.contains("GET /stream?room=REDACTED&pw=REDACTED&REDACTED"))
        let variable = try runWSDoctor(["replay", "--format", "json", path], environment: ["WSDOCTOR_REDACT": "other,room"])
        #expect(variable.stdout.contains(#""path":"/stream?room=REDACTED&pw=REDACTED&REDACTED""#))
    }

    /// Evidence facts the rules list (`redact_evidence`) as user text: `policy-1008.pcap`'s
    /// close reason, "policy violation", cited by the rule that diagnoses it.
    @Test func evidenceTheRulesListIsRedactedInEveryFormatUnlessShowSecrets() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("evidence-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func run(_ extra: [String]) throws -> (text: String, json: [String: Any], har: String, html: String) {
            let har = directory.appendingPathComponent("out.har").path, html = directory.appendingPathComponent("out.html").path
            let text = try runWSDoctor(["replay"] + extra + [fixturePath("policy-1008.pcap")])
            #expect(text.status == 0, "stderr: \(text.stderr)")
            let json = try runWSDoctor(["replay", "--format", "json", "--har", har, "--html", html] + extra + [fixturePath("policy-1008.pcap")])
            #expect(json.status == 0, "stderr: \(json.stderr)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.split(separator: "\n")[0].utf8)) as? [String: Any])
            let evidence = try #require((object["diagnosis"] as? [String: Any])?["evidence"] as? [String: Any])
            return (text.stdout, evidence, try String(contentsOfFile: har, encoding: .utf8), try String(contentsOfFile: html, encoding: .utf8))
        }
        let hidden = try run([])
        #expect(hidden.text.contains("close.reason = REDACTED;") && hidden.text.contains("close.code = 1008;"))
        #expect(hidden.json["close.reason"] as? String == "REDACTED" && hidden.json["close.code"] as? Int == 1008)
        #expect(hidden.har.contains(#""close.reason":"REDACTED""#) && hidden.html.contains(#""close.reason":"REDACTED""#))
        let evidenceLine = hidden.text.split(separator: "\n").first { $0.contains("evidence") }.map(String.init) ?? ""
        #expect(!evidenceLine.contains("policy violation"))
        let shown = try run(["--show-secrets"])
        #expect(shown.text.contains(#"close.reason = "policy violation";"#))
        #expect(shown.json["close.reason"] as? String == "policy violation")
        #expect(shown.har.contains(#""close.reason":"policy violation""#) && shown.html.contains(#""close.reason":"policy violation""#))
        // The list is rule data: a rules file that empties it shows the reason.
        let rules = directory.appendingPathComponent("rules.yaml").path
        try "settings:\n  redact_evidence: [\"handshake.subprotocol\"]\n".write(toFile: rules, atomically: true, encoding: .utf8)
        let unlisted = try run(["--rules", rules])
        #expect(unlisted.json["close.reason"] as? String == "policy violation")
    }
}
