import Foundation
import Testing

/// `wsdoctor compare` as a user runs it: the JSON schema, clock offsets, unmatched
/// connections, and one clear line for each kind of bad input.
@Suite struct CompareCommandTests {
    @Test func jsonHasOneComparisonPerPairAndASummary() throws {
        let files = comparisonFixture("nginx-idle")
        let result = try run(wsdoctorPath, ["compare", files.nearClient, files.nearServer, "--format", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let objects = try result.stdout.split(separator: "\n").map { line in
            try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
        #expect(objects.map { $0["type"] as? String } == ["comparison", "comparison_summary"])
        let pair = objects[0]
        #expect((pair["near_client"] as? [String: Any])?["type"] as? String == "connection")
        #expect((pair["near_server"] as? [String: Any])?["capture"] as? String == files.nearServer)
        #expect(pair["clock_offset"] as? Double == 0)
        #expect(pair["matched_by"] as? String == "sec-websocket-key")
        let changes = try #require(pair["changes"] as? [[String: Any]])
        let cut = try #require(changes.first { $0["kind"] as? String == "closed-by-intermediary" })
        #expect(Set(cut.keys) == ["kind", "direction", "near_client_frame", "near_server_frame", "at", "detail"])
        #expect((pair["diagnosis"] as? [String: Any])?["category"] as? String == "intermediary")
        let latency = try #require(pair["latency"] as? [String: Any])
        #expect((latency["client-to-server"] as? [String: Any])?["p99"] is Double)
        #expect(objects[1]["pairs"] as? Int == 1)
        #expect((objects[1]["changes"] as? [String: Any])?["closed-by-intermediary"] as? Int == 2)
    }

    @Test func textShowsEachChangeAndTheDiagnosis() throws {
        let files = comparisonFixture("close-rewrite")
        let result = try run(wsdoctorPath, ["compare", files.nearClient, files.nearServer])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("close-rewritten"))
        #expect(result.stdout.contains("diagnosis  intermediary: The intermediary rewrote a close frame"))
        #expect(result.stdout.contains("1 pair, 0 only near the client, 0 only near the server"))
    }

    @Test func aClockOffsetIsFoundFromTheHandshakes() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let files = comparisonFixture("socat")
        let shifted = folder.appendingPathComponent("shifted.pcap").path
        let shift = try run("/usr/bin/editcap", ["-t", "7.5", files.nearServer, shifted])
        #expect(shift.status == 0, "\(shift.stderr)")
        let comparison = try compare(nearClient: files.nearClient, nearServer: shifted)
        #expect(abs(comparison.clock.seconds - 7.5) < 0.05, "offset \(comparison.clock.seconds)")
        let pair = try #require(comparison.pairs.first)
        #expect(pair.diagnosis.id == "transparent")
        #expect(pair.latency.values.allSatisfy { abs($0.max) < 0.05 })
    }

    @Test func connectionsInOneCaptureOnlyAreListed() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let socat = comparisonFixture("socat")
        let nginx = comparisonFixture("nginx-idle")
        let merged = folder.appendingPathComponent("merged.pcap").path
        let merge = try run("/usr/bin/mergecap", ["-F", "pcap", "-w", merged, socat.nearClient, nginx.nearClient])
        #expect(merge.status == 0, "\(merge.stderr)")
        let result = try run(wsdoctorPath, ["compare", merged, socat.nearServer])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("1 pair, 1 only near the client, 0 only near the server"))
        #expect(result.stdout.contains("only near client"))
    }

    @Test func badInputIsOneLineEach() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let socat = comparisonFixture("socat")
        let copy = folder.appendingPathComponent("copy.pcap").path
        try FileManager.default.copyItem(atPath: socat.nearClient, toPath: copy)
        let cases: [(arguments: [String], status: Int32, message: String)] = [
            (["compare", folder.appendingPathComponent("missing.pcap").path, socat.nearServer], 2, "the near-client capture"),
            (["compare", socat.nearClient, socat.nearClient], 2, "are the same file"),
            (["compare", socat.nearClient, copy], 2, "hold the same capture"),
            (["compare", socat.nearClient, comparisonFixture("close-rewrite").nearServer], 1, "no connection in common"),
        ]
        for (arguments, status, message) in cases {
            let result = try run(wsdoctorPath, arguments)
            #expect(result.status == status, "\(arguments): \(result.stderr)")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].contains(message), "\(arguments): \(result.stderr)")
        }
        // The shared diagnosis options: --redact is taken, --frames (no frame list here) refused.
        let redacting = try run(wsdoctorPath, ["compare", socat.nearClient, socat.nearServer, "--redact", "room"])
        #expect(redacting.status == 0, "\(redacting.stderr)")
        let frames = try run(wsdoctorPath, ["compare", socat.nearClient, socat.nearServer, "--frames"])
        #expect(frames.status != 0 && frames.stderr.contains("--frames is not shown by compare"), "\(frames.stderr)")
    }
}
