import Foundation
import Testing

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
        let replay = Process()
        replay.executableURL = wsdoctorExecutable()
        replay.arguments = ["replay", "--format", "json", recording]
        let output = Pipe()
        replay.standardOutput = output
        try replay.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        replay.waitUntilExit()
        #expect(replay.terminationStatus == 0)
        let offline = String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { JSONValue.parse(String($0)) }
            .filter { $0["type"]?.string == "connection" }
        func summary(_ objects: [JSONValue]) -> [String] {
            objects.map { "\($0["client"]?.string ?? "?") \($0["diagnosis"]?["id"]?.string ?? "?") \($0["close"]?["code"]?.int ?? 0)" }.sorted()
        }
        #expect(offline.count == 3)
        #expect(summary(offline) == summary(live))
        #expect(offline.map { $0["handshake"]?["path"]?.string ?? "" }.sorted() == live.map { $0["handshake"]?["path"]?.string ?? "" }.sorted())
    }
}
