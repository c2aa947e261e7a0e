import Foundation
import Testing

/// The `wsdoctor replay` command as a user runs it: output, formats, errors and exit codes.
@Suite struct ReplayCommandTests {
    @Test func textReportShowsHandshakeViolationAndClose() throws {
        let result = try runWSDoctor(["replay", fixturePath("protocol-error-1002.pcap")])
        #expect(result.status == 0)
        #expect(result.stdout.contains("handshake  GET /  → 101 Switching Protocols"))
        #expect(result.stdout.contains("violation  client frame 1 at byte 198: client-frame-unmasked (RFC 6455 §5.1)"))
        #expect(result.stdout.contains("close      server sent 1002 Protocol Error \"incorrect masking\"; client answered 1002"))
        #expect(result.stdout.contains("tcp        FIN from server, then client"))
        #expect(result.stderr.isEmpty)
    }

    @Test func framesOptionListsEveryFrame() throws {
        let result = try runWSDoctor(["replay", "--frames", fixturePath("fragmented.pcap")])
        let frameLines = result.stdout.split(separator: "\n").filter { $0.contains(" frame ") }
        #expect(frameLines.count == 22)
        #expect(result.stdout.contains("c→s frame 0 text 16 B FIN=0 masked"))
        #expect(result.stdout.contains("close 1000 Normal Closure"))
    }

    @Test func jsonLinesFollowTheDocumentedSchema() throws {
        let result = try runWSDoctor(["replay", "--format", "json", fixturePath("two-connections.pcap"), fixturePath("rejected-429.pcap")])
        #expect(result.status == 0)
        let objects = try result.stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(objects.map { $0["type"] as? String } == ["connection", "connection", "summary", "connection", "summary", "categories"])
        let first = objects[0]
        for key in ["client", "server", "opened", "closed", "handshake", "close", "violations"] {
            #expect(first[key] != nil, "missing \(key)")
        }
        let opened = try #require(first["opened"] as? String)
        #expect(opened.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$"#, options: .regularExpression) != nil)
        let handshake = try #require(first["handshake"] as? [String: Any])
        #expect(handshake["path"] as? String == "/a")
        #expect(handshake["status"] as? Int == 101)
        let close = try #require(first["close"] as? [String: Any])
        #expect(close["initiator"] as? String == "client")
        #expect(close["code"] as? Int == 1000)
        #expect(close["reason"] as? String == "A done")
        #expect(close["echo_code"] as? Int == 1000)
        #expect(close["handshake_complete"] as? Bool == true)
        #expect(close["transport"] as? String == "fin")
        let refused = try #require(objects[3]["handshake"] as? [String: Any])
        #expect(refused["status"] as? Int == 429)
        #expect(refused["retry_after"] as? String == "30")
        #expect((objects[3]["close"] as? [String: Any])?["initiator"] as? String == "none")
    }

    @Test func violationsAppearInJSON() throws {
        let result = try runWSDoctor(["replay", "--format", "json", fixturePath("invalid-utf8-1007.pcap")])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.split(separator: "\n")[0].utf8)) as? [String: Any])
        let violations = try #require(object["violations"] as? [[String: Any]])
        #expect(violations.count == 1)
        #expect(violations[0]["side"] as? String == "client")
        #expect(violations[0]["kind"] as? String == "text-not-utf8")
        #expect(violations[0]["rfc"] as? String == "RFC 6455 §8.1")
        #expect(violations[0]["frame"] as? Int == 1)
        #expect(violations[0]["offset"] as? Int == 207)
    }

    @Test func missingFileIsOneClearLineAndAFailure() throws {
        let result = try runWSDoctor(["replay", "/nonexistent/capture.pcap"])
        #expect(result.status != 0)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines.first?.contains("/nonexistent/capture.pcap") == true)
    }

    @Test func fileThatIsNotACaptureIsNamed() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("not-a-capture-\(UUID().uuidString).pcap").path
        try "GET / HTTP/1.1\r\n\r\nthis is text, not a capture\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try runWSDoctor(["replay", path])
        #expect(result.status != 0)
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(result.stderr.contains(path))
    }

    @Test func truncatedCaptureStillReportsWhatCameBefore() throws {
        let original = try Data(contentsOf: URL(fileURLWithPath: fixturePath("two-connections.pcap")))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("truncated-\(UUID().uuidString).pcap").path
        // Cut inside the last packet: everything before it is intact.
        try original.prefix(original.count - 20).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try runWSDoctor(["replay", path])
        #expect(result.status != 0)
        #expect(result.stdout.contains("#1 "))
        #expect(result.stdout.contains("#2 "))
        #expect(result.stdout.contains("client sent 1000 Normal Closure \"A done\""))
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(result.stderr.contains(path) && result.stderr.lowercased().contains("truncated"))
    }

    @Test func goodFilesAreReportedEvenWhenAnotherFails() throws {
        let result = try runWSDoctor(["replay", "/nonexistent.pcap", fixturePath("normal-1000.pcap")])
        #expect(result.status != 0)
        #expect(result.stdout.contains("client sent 1000 Normal Closure \"bye\""))
    }

    @Test func badFilterIsReported() throws {
        let result = try runWSDoctor(["replay", "--filter", "tcp port banana", fixturePath("normal-1000.pcap")])
        #expect(result.status != 0)
        #expect(result.stderr.contains("filter"))
    }

    @Test func filterSelectsTraffic() throws {
        let result = try runWSDoctor(["replay", "--filter", "udp", fixturePath("normal-1000.pcap")])
        #expect(result.status == 0)
        #expect(result.stdout.contains("0 connections reported, "))
    }

    /// A client that said nothing, before its server answered any upgrade: held until the
    /// server answers one later in the capture, then reported in its place; the summary
    /// counts it as reported, not as upgraded. Without that later upgrade (cut away by the
    /// filter) it is other TCP traffic.
    @Test func aSilentClientBeforeTheFirstUpgradeIsReportedOnceTheServerUpgrades() throws {
        let path = fixturePath("diag-client-sent-nothing-first.pcap")
        let text = try runWSDoctor(["replay", path])
        #expect(text.status == 0, "stderr: \(text.stderr)")
        let headers = text.stdout.split(separator: "\n").filter { $0.hasPrefix("#") || $0.contains("diagnosis  ") }
        #expect(headers.count == 4 && headers[0].hasPrefix("#1 ") && headers[2].hasPrefix("#2 "), "\(headers)")
        #expect(headers[1].contains("without the client sending a byte") && headers[3].contains("normal"), "\(headers)")
        #expect(text.stdout.contains("2 connections reported (1 upgraded to WebSocket), 0 other TCP connections, 20 packets"))
        let json = try runWSDoctor(["replay", "--format", "json", path])
        let objects = try json.stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(objects.compactMap { ($0["diagnosis"] as? [String: Any])?["id"] as? String } == ["client-sent-nothing", "normal-close"])
        let summary = try #require(objects.first { $0["type"] as? String == "summary" })
        #expect(summary["reported_connections"] as? Int == 2 && summary["upgraded_connections"] as? Int == 1)
        #expect(summary["other_connections"] as? Int == 0 && summary["websocket_connections"] == nil)
        // Only the silent connection (the first SYN's client port): its server never upgrades.
        let port = try #require(replayFixture("diag-client-sent-nothing-first.pcap").connections.first?.facts.client.port)
        let alone = try runWSDoctor(["replay", "--filter", "tcp port \(port)", path])
        #expect(alone.status == 0 && alone.stdout.contains("0 connections reported, 1 other TCP connection, "), "\(alone.stdout)")
    }
}
