import Foundation
import Testing
import WireTestSupport

/// `--record`: what the proxy relayed replays offline to the same diagnoses it gave live.
extension ProxyTests {
    @Test("live and offline agree: the recording replays to the same diagnoses")
    func recordingReplaysToTheSameDiagnoses() async throws {
        let peers = try PeerHost.shared
        let recording = FileManager.default.temporaryDirectory.appendingPathComponent("wsdoctor-record-\(UUID().uuidString).pcap").path
        defer { try? FileManager.default.removeItem(atPath: recording) }
        let live: [JSONValue] = try await withProxy(upstream: peers.mainPort, extraArguments: ["--record", recording]) { proxy in
            _ = try await peers.run("session", ["port": proxy.port, "path": "/echo?tag=\(freshTag())", "messages": ["hello", "bye"]])
            _ = try await peers.run("session", ["port": proxy.port, "path": "/policy?tag=\(freshTag())",
                                                "messages": ["hello", "forbidden word"], "close": false])
            _ = try await peers.run("session", ["port": proxy.port, "path": "/overload?tag=\(freshTag())",
                                                "messages": ["hello", "subscribe"], "close": false])
            return try await expectCleanStop(proxy, counts: ["normal": 1, "policy": 1, "overload": 1])
        }
        let offline = try replayedConnections(recording)
        func summary(_ objects: [JSONValue]) -> [String] {
            objects.map { "\($0["client"]?.string ?? "?") \($0["diagnosis"]?["id"]?.string ?? "?") \($0["close"]?["code"]?.int ?? 0)" }.sorted()
        }
        #expect(offline.count == 3)
        #expect(summary(offline) == summary(live))
        #expect(offline.map { $0["handshake"]?["path"]?.string ?? "" }.sorted() == live.map { $0["handshake"]?["path"]?.string ?? "" }.sorted())
    }
}

extension ProxyTests {
    /// One diagnosis path: a client that connects and says nothing, and one that sends garbage,
    /// are reported live and again when the recording is replayed, with the same diagnoses.
    @Test("live and offline agree on clients that never upgrade")
    func recordingReplaysClientsThatNeverUpgrade() async throws {
        let peers = try PeerHost.shared
        let recording = FileManager.default.temporaryDirectory.appendingPathComponent("wsdoctor-record-\(UUID().uuidString).pcap").path
        defer { try? FileManager.default.removeItem(atPath: recording) }
        let live: [JSONValue] = try await withProxy(upstream: peers.mainPort, extraArguments: ["--record", recording]) { proxy in
            _ = try await peers.run("session", ["port": proxy.port, "path": "/echo?tag=\(freshTag())", "messages": ["hello"]])
            _ = try await peers.run("raw_exchange", ["port": proxy.port, "data_b64": "", "mode": "fin", "pause": 0.2])
            let garbage = Data("\u{1}\u{2}not http at all\r\n\r\n".utf8).base64EncodedString()
            _ = try await peers.run("raw_exchange", ["port": proxy.port, "data_b64": garbage, "mode": "fin", "pause": 0.2])
            _ = try await proxy.waitForConnections(3)
            return try await proxy.stop().objects.filter { $0["type"]?.string == "connection" }
        }
        let offline = try replayedConnections(recording)
        func summary(_ objects: [JSONValue]) -> [String] {
            objects.map { "\($0["client"]?.string ?? "?") \($0["diagnosis"]?["id"]?.string ?? "?") \($0["diagnosis"]?["category"]?.string ?? "?")" }
                .sorted()
        }
        #expect(live.count == 3)
        #expect(live.contains { $0["diagnosis"]?["id"]?.string == "client-sent-nothing" }, "\(live)")
        #expect(summary(offline) == summary(live))
    }
}

/// The connection objects `wsdoctor replay --format json` prints for a recording.
private func replayedConnections(_ recording: String) throws -> [JSONValue] {
    let replay = Process()
    replay.executableURL = wsdoctorExecutable()
    replay.arguments = ["replay", "--format", "json", recording]
    let output = Pipe()
    replay.standardOutput = output
    try replay.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    replay.waitUntilExit()
    #expect(replay.terminationStatus == 0)
    return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { JSONValue.parse(String($0)) }
        .filter { $0["type"]?.string == "connection" }
}
