import Diagnosis
import Foundation
import Reporting
import Testing

/// `--har`: HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/) with WebSocket
/// messages named as Chrome DevTools exports and imports them.
@Suite struct HARTests {
    private func log(_ fixtures: [String], showSecrets: Bool = false) throws -> [String: Any] {
        var har = HARLog(redaction: Redaction(showSecrets: showSecrets))
        for name in fixtures {
            for connection in replayFixture(name).connections { har.add(connection) }
        }
        let object = try JSONSerialization.jsonObject(with: Data(har.document(version: "test").utf8))
        let root = try #require(object as? [String: Any])
        return try #require(root["log"] as? [String: Any])
    }

    private func entries(_ log: [String: Any]) throws -> [[String: Any]] {
        try #require(log["entries"] as? [[String: Any]])
    }

    @Test func everyEntryHasTheFieldsHAR12Requires() throws {
        let log = try log(["normal-1000.pcap", "rejected-429.pcap", "two-connections.pcap", "diag-handshake-unanswered.pcap"])
        #expect(log["version"] as? String == "1.2")
        let creator = try #require(log["creator"] as? [String: Any])
        #expect(creator["name"] as? String == "wsdoctor")
        #expect(creator["version"] as? String == "test")
        let entries = try entries(log)
        #expect(entries.count == 5)
        for entry in entries {
            for key in ["startedDateTime", "time", "request", "response", "cache", "timings"] {
                #expect(entry[key] != nil, "entry lacks \(key)")
            }
            let started = try #require(entry["startedDateTime"] as? String)
            #expect(started.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$"#, options: .regularExpression) != nil)
            let request = try #require(entry["request"] as? [String: Any])
            for key in ["method", "url", "httpVersion", "cookies", "headers", "queryString", "headersSize", "bodySize"] {
                #expect(request[key] != nil, "request lacks \(key)")
            }
            let response = try #require(entry["response"] as? [String: Any])
            for key in ["status", "statusText", "httpVersion", "cookies", "headers", "content", "redirectURL", "headersSize", "bodySize"] {
                #expect(response[key] != nil, "response lacks \(key)")
            }
            let content = try #require(response["content"] as? [String: Any])
            #expect(content["size"] is Int && content["mimeType"] is String)
            let timings = try #require(entry["timings"] as? [String: Any])
            for key in ["send", "wait", "receive"] { #expect(timings[key] is NSNumber, "timings lack \(key)") }
            for header in (request["headers"] as? [[String: Any]] ?? []) + (response["headers"] as? [[String: Any]] ?? []) {
                #expect(header["name"] is String && header["value"] is String)
            }
        }
        let unanswered = try #require(entries.last?["response"] as? [String: Any])
        #expect(unanswered["status"] as? Int == 0)
    }

    @Test func messagesAreNamedAsDevToolsImportsThem() throws {
        let entry = try #require(try entries(log(["normal-1000.pcap"])).first)
        #expect(entry["_resourceType"] as? String == "websocket")
        let request = try #require(entry["request"] as? [String: Any])
        #expect((request["url"] as? String)?.hasPrefix("ws://") == true)
        #expect((request["url"] as? String)?.hasSuffix("/chat") == true)
        let messages = try #require(entry["_webSocketMessages"] as? [[String: Any]])
        // Four messages each way, then the client's close and the server's answer.
        #expect(messages.count == 10)
        for message in messages {
            #expect(Set(message.keys) == ["type", "time", "opcode", "data"])
            #expect(["send", "receive"].contains(message["type"] as? String))
            let time = try #require(message["time"] as? Double)
            #expect(time > 1.7e9 && time < 2.1e9, "time is epoch seconds")
        }
        #expect(messages.first?["type"] as? String == "send")
        #expect(messages.first?["opcode"] as? Int == 1)
        #expect(messages.first?["data"] as? String == Redaction.placeholder)
        #expect(messages.suffix(2).map { $0["opcode"] as? Int } == [8, 8])
        #expect(messages.suffix(2).map { $0["type"] as? String } == ["send", "receive"])
        #expect(messages.last?["data"] as? String == "bye")
        let times = messages.compactMap { $0["time"] as? Double }
        #expect(times == times.sorted())
    }

    @Test func wsdoctorObjectCarriesTheCloseAndDiagnosis() throws {
        let entry = try #require(try entries(log(["policy-1008.pcap"])).first)
        let wsdoctor = try #require(entry["_wsdoctor"] as? [String: Any])
        let close = try #require(wsdoctor["close"] as? [String: Any])
        #expect(close["code"] as? Int == 1008)
        #expect(close["initiator"] as? String == "server")
        let diagnosis = try #require(wsdoctor["diagnosis"] as? [String: Any])
        #expect(diagnosis["category"] as? String == "policy")
        #expect(diagnosis["severity"] as? String == "warning")
        #expect((diagnosis["summary"] as? String)?.isEmpty == false)
        #expect(diagnosis["evidence"] is [String: Any])
    }

    @Test func credentialsAndPingPayloadsAreRedactedUnlessAsked() throws {
        func texts(_ showSecrets: Bool) throws -> String {
            let entries = try entries(log(["diag-jwt-query-expired-1008.pcap", "pings.pcap"], showSecrets: showSecrets))
            let data = try JSONSerialization.data(withJSONObject: entries)
            return String(decoding: data, as: UTF8.self)
        }
        let redacted = try texts(false)
        let shown = try texts(true)
        #expect(redacted.contains("token=REDACTED"))
        #expect(!shown.contains("token=REDACTED"))
        #expect(redacted.count < shown.count)
    }

    @Test func replayWritesTheFile() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("wsdoctor-\(UUID().uuidString).har")
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try runWSDoctor(["replay", "--har", file.path, fixturePath("two-connections.pcap")])
        #expect(result.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any]
        let log = try #require(object?["log"] as? [String: Any])
        #expect(try entries(log).count == 2)
    }

    @Test func anUnwritableFileIsOneLine() throws {
        let result = try runWSDoctor(["replay", "--har", "/nonexistent/dir/out.har", fixturePath("normal-1000.pcap")])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("wsdoctor: cannot write /nonexistent/dir/out.har"))
        #expect(result.stderr.split(separator: "\n").count == 1)
    }
}
