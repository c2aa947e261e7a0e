import Comparison
import Foundation
import Testing
import WebSocketWire

/// Pairs with no Sec-WebSocket-Key in common: an intermediary that sends its own key
/// upstream (and rewrites the Accept back). Made from the real nginx recordings by rewriting
/// the keys, and the Accepts that answer them, in the near-server capture; bytes keep their
/// length, so the TCP stream is otherwise as recorded.
@Suite struct PathAndOrderMatchingTests {
    @Test func rewrittenKeysArePairedByPathInOpeningOrder() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let files = comparisonFixture("nginx-reload")
        let rewritten = folder.appendingPathComponent("rewritten-keys.pcap").path
        let newKeys = try rewriteKeys(in: files.nearServer, to: rewritten) { _ in true }
        #expect(newKeys.count == 3)

        let byKey = try compare(nearClient: files.nearClient, nearServer: files.nearServer)
        let byOrder = try compare(nearClient: files.nearClient, nearServer: rewritten)
        #expect(byOrder.onlyNearClient.isEmpty && byOrder.onlyNearServer.isEmpty)
        #expect(byOrder.pairs.map(\.matchedBy) == [.pathAndOrder, .pathAndOrder, .pathAndOrder])
        // The same pairs as the keys give: each near-server key maps back to its original.
        #expect(byOrder.pairs.map { [$0.nearClient.key, $0.nearServer.key.flatMap { newKeys[$0] }] }
            == byKey.pairs.map { [$0.nearClient.key, $0.nearServer.key] })
        #expect(byOrder.clock.seconds == 0)
        for pair in byOrder.pairs {
            #expect(pair.nearClient.key != pair.nearServer.key)
            #expect(pair.diagnosis.id == "intermediary-reload")
            let accept = try #require(pair.changes.first { $0.kind == .headerRewritten && $0.detail.hasPrefix("Sec-WebSocket-Accept") })
            #expect(accept.direction == .serverToClient)
        }
    }

    @Test func keysArePreferredAndOnlyTheRestFallsBack() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let files = comparisonFixture("nginx-reload")
        let rewritten = folder.appendingPathComponent("one-rewritten-key.pcap").path
        var seen = 0
        let newKeys = try rewriteKeys(in: files.nearServer, to: rewritten) { _ in
            seen += 1
            return seen == 2
        }
        #expect(newKeys.count == 1)
        let comparison = try compare(nearClient: files.nearClient, nearServer: rewritten)
        #expect(comparison.pairs.count == 3)
        let fallback = try #require(comparison.pairs.first { $0.matchedBy == .pathAndOrder })
        #expect(comparison.pairs.filter { $0.matchedBy == .key }.count == 2)
        #expect(fallback.nearServer.key.flatMap { newKeys[$0] } == fallback.nearClient.key)
    }

    @Test func theCommandReportsHowEachPairWasMatched() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let files = comparisonFixture("socat")
        let rewritten = folder.appendingPathComponent("rewritten-key.pcap").path
        #expect(try rewriteKeys(in: files.nearServer, to: rewritten) { _ in true }.count == 1)
        let result = try run(wsdoctorPath, ["compare", files.nearClient, rewritten, "--format", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let pair = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.split(separator: "\n")[0].utf8)) as? [String: Any])
        #expect(pair["matched_by"] as? String == "path-and-order")
        #expect(pair["clock_offset"] as? Double == 0)
    }

    /// Hosts whose clocks differ by more than the fallback window, and no key in common: the
    /// offset comes from the path-and-order pairs' handshakes, right within the handshake's
    /// round trip.
    @Test(arguments: [37.0, -3600.0])
    func aClockOffsetIsFoundWithoutKeys(shift: Double) throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let files = comparisonFixture("nginx-reload")
        let rewritten = folder.appendingPathComponent("rewritten-keys.pcap").path
        #expect(try rewriteKeys(in: files.nearServer, to: rewritten) { _ in true }.count == 3)
        let shifted = folder.appendingPathComponent("shifted.pcap").path
        let edited = try run("/usr/bin/editcap", ["-t", String(shift), rewritten, shifted])
        #expect(edited.status == 0, "\(edited.stderr)")
        let comparison = try compare(nearClient: files.nearClient, nearServer: shifted)
        #expect(comparison.onlyNearClient.isEmpty && comparison.onlyNearServer.isEmpty)
        #expect(comparison.pairs.map(\.matchedBy) == [.pathAndOrder, .pathAndOrder, .pathAndOrder])
        let roundTrips = comparison.pairs.compactMap { pair in
            pair.nearClient.facts.handshake.flatMap { handshake in handshake.answeredAt.map { $0.seconds(since: handshake.requestedAt) } }
        }
        let roundTrip = try #require(roundTrips.max())
        #expect(abs(comparison.clock.seconds - shift) <= roundTrip, "offset \(comparison.clock.seconds), round trip \(roundTrip)")
        for pair in comparison.pairs {
            #expect(pair.diagnosis.id == "intermediary-reload")
            #expect(pair.facts.endedTogether == 3)
        }
    }

    @Test func aDifferentPathIsNotPaired() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let files = comparisonFixture("socat")
        let keyRewritten = folder.appendingPathComponent("rewritten-key.pcap").path
        _ = try rewriteKeys(in: files.nearServer, to: keyRewritten) { _ in true }
        let elsewhere = folder.appendingPathComponent("other-path.pcap").path
        var bytes = try Data(contentsOf: URL(fileURLWithPath: keyRewritten))
        try replaceAll(Data("GET /chat ".utf8), with: Data("GET /talk ".utf8), in: &bytes)
        try bytes.write(to: URL(fileURLWithPath: elsewhere))
        let comparison = try compare(nearClient: files.nearClient, nearServer: elsewhere)
        #expect(comparison.pairs.isEmpty)
        #expect(comparison.onlyNearClient.count == 1 && comparison.onlyNearServer.count == 1)
    }

    /// Writes `source` to `destination` with each Sec-WebSocket-Key that `rewrite` picks (in
    /// capture order) replaced by a fresh key, and its Sec-WebSocket-Accept by the answer to
    /// that key. Returns new key → original key.
    private func rewriteKeys(in source: String, to destination: String, where rewrite: (String) -> Bool) throws -> [String: String] {
        var bytes = try Data(contentsOf: URL(fileURLWithPath: source))
        let marker = Data("Sec-WebSocket-Key: ".utf8)
        var originals: [String] = []
        var from = bytes.startIndex
        while let found = bytes.range(of: marker, in: from..<bytes.endIndex) {
            let key = String(decoding: bytes[found.upperBound..<found.upperBound + 24], as: UTF8.self)
            originals.append(key)
            from = found.upperBound
        }
        var newKeys: [String: String] = [:]
        for original in originals where rewrite(original) {
            let fresh = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
            try replaceAll(Data((marker + Data(original.utf8))), with: marker + Data(fresh.utf8), in: &bytes)
            try replaceAll(Data("Sec-WebSocket-Accept: \(WebSocketHandshake.acceptValue(forKey: original))".utf8),
                           with: Data("Sec-WebSocket-Accept: \(WebSocketHandshake.acceptValue(forKey: fresh))".utf8), in: &bytes)
            newKeys[fresh] = original
        }
        try bytes.write(to: URL(fileURLWithPath: destination))
        return newKeys
    }

    /// Same-length replacement, so no TCP sequence number moves.
    private func replaceAll(_ old: Data, with new: Data, in bytes: inout Data) throws {
        guard old.count == new.count else { throw ComparisonTestError("replacement changes the length") }
        var from = bytes.startIndex
        var replaced = 0
        while let found = bytes.range(of: old, in: from..<bytes.endIndex) {
            bytes.replaceSubrange(found, with: new)
            from = found.upperBound
            replaced += 1
        }
        guard replaced > 0 else { throw ComparisonTestError("\(String(decoding: old, as: UTF8.self)) is not in the capture") }
    }
}
