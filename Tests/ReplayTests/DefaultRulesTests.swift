import Diagnosis
import Foundation
import Testing
import WireTestSupport

/// Every default rule, shown on a session recorded from real peers (Fixtures/captures/MANIFEST.md).
@Suite struct DefaultRulesTests {
    /// Capture → the rule each of its connections must be diagnosed by, in opening order.
    static let expectations: [(file: String, rules: [String])] = [
        ("still-open.pcap", ["still-open"]),
        ("diag-proxy-bad-accept.pcap", ["handshake-accept-mismatch"]),
        ("rejected-429.pcap", ["handshake-overload"]),
        ("diag-overload-503.pcap", ["handshake-overload"]),
        ("rejected-403.pcap", ["handshake-unauthorized"]),
        ("diag-unauthorized-401.pcap", ["handshake-unauthorized"]),
        ("diag-not-found-404.pcap", ["handshake-not-found"]),
        ("diag-bad-version-400.pcap", ["handshake-version"]),
        ("diag-handshake-unanswered.pcap", ["handshake-unanswered"]),
        ("diag-handshake-refused-200.pcap", ["handshake-refused"]),
        ("diag-proxy-strips-extension.pcap", ["extension-header-stripped"]),
        ("protocol-error-1002.pcap", ["protocol-violation-seen"]),
        ("reserved-opcode-1002.pcap", ["protocol-violation-seen"]),
        ("diag-proxy-corrupts-1002.pcap", ["protocol-error-frames-valid-here"]),
        ("protocol-error-1002-lost-frame.pcap", ["protocol-error"]),
        ("invalid-utf8-1007.pcap", ["text-not-utf8"]),
        ("diag-proxy-corrupts-utf8-1007.pcap", ["text-valid-but-1007"]),
        ("diag-jwt-expired-1008.pcap", ["token-expired"]),
        ("diag-jwt-query-expired-1008.pcap", ["token-expired"]),
        ("diag-rate-limit-1008.pcap", ["rate-limit"]),
        ("policy-1008.pcap", ["content-policy"]),
        ("diag-policy-unexplained-1008.pcap", ["policy"]),
        ("try-again-1013.pcap", ["overload-1013"]),
        ("restart-1012.pcap", ["restart-1012"]),
        // In opening order; the first two to close are not yet a wave.
        ("diag-restart-wave-1012.pcap", ["restart-wave", "restart-1012", "restart-wave", "restart-1012", "restart-wave"]),
        ("diag-keepalive-timeout.pcap", ["keepalive-timeout-1011"]),
        ("internal-error-1011.pcap", ["internal-error-1011"]),
        ("too-big-1009.pcap", ["too-big-1009"]),
        ("diag-too-big-deflate-1009.pcap", ["too-big-1009"]),
        ("unsupported-data-1003.pcap", ["unsupported-data-1003"]),
        ("diag-mandatory-extension-1010.pcap", ["mandatory-extension-1010"]),
        ("diag-bad-gateway-1014.pcap", ["bad-gateway-1014"]),
        ("diag-application-close-4000.pcap", ["application-close"]),
        ("diag-close-never-echoed.pcap", ["close-not-echoed"]),
        ("going-away-1001.pcap", ["going-away"]),
        ("normal-1000.pcap", ["normal-close"]),
        ("deflate.pcap", ["normal-close"]),
        ("diag-empty-close-1005.pcap", ["normal-close-without-code"]),
        ("diag-keepalive-no-close.pcap", ["keepalive-timeout"]),
        ("diag-idle-timeout.pcap", ["idle-timeout"]),
        ("tcp-reset.pcap", ["reset-without-close"]),
        ("diag-server-crash.pcap", ["fin-without-close"]),
        // The silent client is reported because the same server upgraded a connection before.
        ("diag-client-sent-nothing.pcap", ["normal-close", "client-sent-nothing"]),
        // The silent client ends before the server's first upgrade answer: held, then reported.
        ("diag-client-sent-nothing-first.pcap", ["client-sent-nothing", "normal-close"]),
        ("diag-invalid-close-code-2999.pcap", ["illegal-close-answered-with-error"]),
        // Endings read as a sequence (EndingDiagnosisTests reads them in detail).
        ("ending-illegal-close-codes.pcap", Array(repeating: "illegal-close-answered-with-error", count: 9) + ["illegal-close-accepted"]),
        ("ending-malformed-close.pcap", Array(repeating: ["illegal-close-answered-with-error", "illegal-close-answered-with-error", "illegal-close-reason-answered-1007"], count: 2).flatMap { $0 }),
        ("ending-server-close-too-long.pcap", ["illegal-close-answered-with-error", "illegal-close-answered-with-error", "illegal-close-unanswered"]),
        ("ending-data-after-close.pcap", ["data-after-close", "data-after-close"]),
        ("ending-violation-then-close.pcap", ["closer-violation-answered-with-error", "closer-violation-answered-with-error"]),
        ("ending-reserved-opcode-byte-by-byte.pcap", ["protocol-violation-seen", "protocol-violation-seen"]),
        ("ending-reserved-bits.pcap", Array(repeating: "protocol-violation-seen", count: 4)),
        ("ending-garbage-after-upgrade.pcap", ["protocol-violation-seen", "protocol-violation-seen"]),
        ("ending-server-malformed-close.pcap", Array(repeating: "illegal-close-answered-with-error", count: 4)
            + Array(repeating: "illegal-close-reason-answered-1007", count: 2) + ["data-after-close", "data-after-close"]),
        ("ending-server-violation-then-close.pcap", ["closer-violation-answered-with-error", "closer-violation-accepted",
                                                     "closer-violation-answered-with-error", "closer-violation-answered-with-error"]),
        ("ending-server-reserved-opcode-byte-by-byte.pcap", ["protocol-violation-seen", "protocol-violation-seen"]),
        ("ending-server-reserved-bits.pcap", Array(repeating: "protocol-violation-seen", count: 4)),
        ("ending-server-garbage-after-upgrade.pcap", ["protocol-violation-seen", "protocol-violation-seen"]),
        ("ending-large-request-head.pcap", ["normal-close"]),
        ("ending-undecodable-then-reset.pcap", ["analysis-incomplete"]),
    ]

    @Test(arguments: expectations.map(\.file))
    func recordedSessionIsDiagnosedByItsRule(file: String) {
        let expected = Self.expectations.first { $0.file == file }!.rules
        let result = replayFixture(file)
        #expect(result.error == nil)
        #expect(result.connections.map(\.diagnosis.id) == expected)
    }

    @Test func everyDefaultRuleIsShownByARecordedSession() {
        let covered = Set(Self.expectations.flatMap(\.rules))
        // Rules/live.yaml describes what only live watching sees; ProxyTests show those live.
        // Every close code a peer may send now has a rule, so the catch-all (no `when`) is shown
        // on facts no recorded session has, in RuleSetTests. Rules/compare.yaml diagnoses pairs
        // of captures; ComparisonTests show those. Rules/reconnects.yaml judges reconnect
        // episodes; ReconnectsTests and ProxyTests' ReconnectTests show those.
        let uncovered = RuleSet.defaults().rules
            .filter { !["Rules/live.yaml", "Rules/compare.yaml", "Rules/reconnects.yaml"].contains($0.origin.file) && $0.id != "unclassified-close" }
            .map(\.id).filter { !covered.contains($0) }
        #expect(uncovered.isEmpty, "rules without a recorded session: \(uncovered)")
    }

    @Test func restartWaveIsRecognisedAcrossConnections() {
        let result = replayFixture("diag-restart-wave-1012.pcap")
        #expect(result.connections.count == 5)
        #expect(result.connections.allSatisfy { $0.diagnosis.category == "restart" })
        // Closes are correlated looking backwards, as a live session would: the third and later are a wave.
        #expect(result.connections.filter { $0.diagnosis.id == "restart-wave" }.count == 3)
        let largest = result.connections.compactMap { $0.diagnosis.evidence.first { $0.fact == "wave.size" }?.value }.max { ($0.numeric ?? 0) < ($1.numeric ?? 0) }
        #expect(largest == .int(5))
    }

    /// The comment at the top of Rules/default.yaml names a band of priorities (`87-99`,
    /// `100+`, `67`) and why it sits there; every default rule's priority lies in one.
    @Test func everyDefaultPriorityLiesInADocumentedBand() throws {
        let yaml = try String(contentsOf: repositoryRoot.appendingPathComponent("Rules/default.yaml"), encoding: .utf8)
        var bands: [ClosedRange<Int>] = []
        let header = yaml.split(separator: "\n").prefix(while: { !$0.hasPrefix("settings:") && !$0.hasPrefix("rules:") })
        for line in header {
            guard let match = line.firstMatch(of: /^#\s+(\d+)(?:-(\d+)|(\+))?\s+\S/) else { continue }
            let low = Int(match.1)!
            bands.append(low...(match.3 != nil ? Int.max : match.2.map { Int($0)! } ?? low))
        }
        #expect(bands.count >= 8, "\(bands)")
        let rules = RuleSet.defaults().rules.filter { $0.origin.file == "Rules/default.yaml" }
        #expect(rules.count > 40)
        for rule in rules {
            #expect(bands.contains { $0.contains(rule.priority) }, "\(rule.id) has priority \(rule.priority), in no band the comment explains")
        }
    }

    @Test func theCorrelationWindowIsRuleDataAndDecidesTheWave() throws {
        // The five closes of the restart fixture fall within 200 µs: a 1 µs window leaves each alone.
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("window-\(UUID().uuidString).yaml").path
        try "settings:\n  close_correlation_window: 0.000001\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let narrow = try RuleSet.loading(files: [path])
        #expect(narrow.settings.closeCorrelationWindow == 0.000001 && RuleSet.defaults().settings.closeCorrelationWindow == 2)
        let alone = replay(fixturePath("diag-restart-wave-1012.pcap"), rules: narrow).connections
        #expect(alone.count == 5 && alone.allSatisfy { $0.diagnosis.id == "restart-1012" })
        let wave = replayFixture("diag-restart-wave-1012.pcap").connections.first { $0.diagnosis.id == "restart-wave" }
        #expect(wave?.diagnosis.evidence.contains { $0.fact == "wave.window" && $0.value == .number(2) } == true)
        #expect(wave?.diagnosis.summary.contains("within 2 s") == true)
    }

    // MARK: The distinctions the diagnosis must make, read in its words

    private func diagnosis(_ file: String) -> ConnectionDiagnosis {
        replayFixture(file).connections[0].diagnosis
    }

    private func evidence(_ diagnosis: ConnectionDiagnosis, _ fact: String) -> FactValue? {
        diagnosis.evidence.first { $0.fact == fact }?.value
    }

    @Test func protocolErrorNamesTheViolatorAndTheRule() {
        let d = diagnosis("protocol-error-1002.pcap")
        #expect(d.category == "protocol-violation")
        #expect(d.summary == "The server closed with 1002 because the client broke RFC 6455 §5.1: client-frame-unmasked in frame 1 at byte 198 (client text frame is not masked).")
    }

    @Test func protocolErrorWithValidFramesAccusesNoOne() {
        let d = diagnosis("diag-proxy-corrupts-1002.pcap")
        #expect(d.category == "protocol-error-unexplained")
        #expect(d.summary.contains("every frame wsdoctor saw from the client was valid"))
        #expect(evidence(d, "peer.violations") == .int(0))
    }

    @Test func strippedExtensionAndBadAcceptPointAtAProxy() {
        #expect(diagnosis("diag-proxy-strips-extension.pcap").category == "broken-proxy")
        #expect(diagnosis("diag-proxy-bad-accept.pcap").category == "broken-proxy")
    }

    @Test func invalidUTF8IsLocated() {
        let d = diagnosis("invalid-utf8-1007.pcap")
        #expect(d.summary.contains("text message 1 is not UTF-8 at byte 3 of the message; frame 1, byte 207 of its stream"))
        let valid = diagnosis("diag-proxy-corrupts-utf8-1007.pcap")
        #expect(valid.summary.contains("every text message wsdoctor saw from the client was valid UTF-8"))
    }

    @Test func rateLimitShowsBothRates() throws {
        let d = diagnosis("diag-rate-limit-1008.pcap")
        let before = try #require(evidence(d, "peer.rate_before_close")?.numeric)
        let earlier = try #require(evidence(d, "peer.rate_earlier")?.numeric)
        #expect(before >= 15 && earlier <= 3)
        #expect(d.summary.contains("messages/s in the last second, from"))
    }

    @Test func expiredTokenIsTimedAgainstTheClose() throws {
        for file in ["diag-jwt-expired-1008.pcap", "diag-jwt-query-expired-1008.pcap"] {
            let d = diagnosis(file)
            let offset = try #require(evidence(d, "jwt.end_after_expiry")?.numeric)
            #expect(abs(offset) < 0.5, "\(file)")
            #expect(!d.summary.contains("eyJ"), "the token itself is never printed")
        }
        #expect(evidence(diagnosis("diag-jwt-query-expired-1008.pcap"), "jwt.source") == .string("query"))
    }

    @Test func unexplainedPolicyCloseSaysWhatEvidenceIsMissing() {
        let d = diagnosis("diag-policy-unexplained-1008.pcap")
        #expect(d.summary.contains("Missing evidence"))
    }

    @Test func overloadRefusalCarriesRetryAfter() {
        #expect(diagnosis("rejected-429.pcap").summary.contains("Retry-After: 30"))
        #expect(diagnosis("diag-overload-503.pcap").summary.contains("Retry-After: 5"))
    }

    @Test func internalErrorPointsAtTheLastMessageReceived() {
        let d = diagnosis("internal-error-1011.pcap")
        #expect(d.summary.contains("the last message it received was message 1 from the client (text, 5 bytes"))
    }

    @Test func tooBigUsesInflatedSizes() {
        let d = diagnosis("diag-too-big-deflate-1009.pcap")
        #expect(evidence(d, "peer.largest_message") == .int(102_400))
    }

    @Test func idleTimeoutIsMeasured() throws {
        let d = diagnosis("diag-idle-timeout.pcap")
        let idle = try #require(evidence(d, "tcp.idle_before_end")?.numeric)
        #expect(idle > 59 && idle < 62)
    }

    /// The list of common idle timeouts is rule data: a user file that replaces the rule with
    /// a list without 60 s leaves the 60 s drop of diag-idle-timeout to the rules below it.
    @Test func theIdleTimeoutListIsRuleData() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("idle-\(UUID().uuidString).yaml").path
        try """
            rules:
              - id: idle-timeout
                category: idle-timeout
                priority: 65
                when:
                  fact: tcp.idle_before_end
                  near: [45]
                  within: 2
                summary: "ours"
                explanation: "our balancer drops idle connections after 45 s"
                fix: "ping every 30 s"
            """.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(diagnosis("diag-idle-timeout.pcap").id == "idle-timeout")
        let replaced = replay(fixturePath("diag-idle-timeout.pcap"), rules: try RuleSet.loading(files: [path])).connections[0].diagnosis
        #expect(replaced.id != "idle-timeout" && replaced.category == "abnormal", "\(replaced.id)")
    }

    @Test func closesWithoutAFrameSayHowTCPEnded() {
        #expect(diagnosis("tcp-reset.pcap").summary.contains("the client reset the TCP connection (RST)"))
        #expect(diagnosis("diag-server-crash.pcap").summary.contains("the server closed TCP (FIN) without a WebSocket close"))
    }

    @Test func builtInRulesMatchTheFilesInRules() throws {
        let directory = repositoryRoot.appendingPathComponent("Rules")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(!files.isEmpty)
        let builtIn = Dictionary(uniqueKeysWithValues: RuleSet.builtInFiles.map { ($0.name, $0.text) })
        #expect(Set(builtIn.keys) == Set(files.map { "Rules/\($0)" }), "run scripts/embed-rules")
        for file in files {
            let onDisk = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            // The whole text, so a changed condition, priority or comment is caught too.
            #expect(builtIn["Rules/\(file)"].map { $0 + "\n" } == onDisk, "Rules/\(file) differs from the built-in copy: run scripts/embed-rules")
        }
    }

    @Test func rulesReadmeDocumentsEveryFactAndItsExampleParses() throws {
        let readme = try String(contentsOf: repositoryRoot.appendingPathComponent("Rules/README.md"), encoding: .utf8)
        for fact in FactCatalog.all {
            #expect(readme.contains("| `\(fact.name)` | \(fact.type.rawValue) |"), "Rules/README.md lacks \(fact.name): run wsdoctor rules facts --markdown")
        }
        let example = try #require(readme.components(separatedBy: "```yaml\n").dropFirst().first?.components(separatedBy: "```").first)
        #expect(try RuleSet.parse(yaml: example, file: "README example").count == 1)
    }
}
