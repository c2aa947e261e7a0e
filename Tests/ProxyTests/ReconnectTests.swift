import Foundation
import Testing
import WireTestSupport

/// How real clients come back after the server closes them, judged live through the proxy
/// and again by replaying a tcpdump capture of the same run: websockets' documented
/// reconnect loop, aiohttp in a naive retry loop, and a client that backs off as advised
/// (1 s, doubling, with jitter). peers.py's /shed route closes each client's
/// first connections with the code asked for, then keeps the next one open.
extension ProxyTests.ReconnectLiveTests {
    @Test("websockets' documented `async for … connect()` loop comes back at once after 1013 and 1012: no-backoff", .enabled(if: canCapture), arguments: [
        (1013, "no-backoff-overload"),
        (1012, "no-backoff-restart"),
    ])
    func websocketsLoopAfterServerClose(code: Int, id: String) async throws {
        let episode = try await reconnectEpisode(op: "websockets_reconnect", closes: 3, code: code)
        expectEpisode(episode, id: id, category: "no-backoff", afterCode: code, attempts: 3)
        // Its backoff applies to failed handshakes only; a connection the server closed after
        // the upgrade is retried with no delay at all.
        #expect(episode.delays.allSatisfy { $0 < 0.5 }, "\(episode.json)")
        #expect(try #require(episode.evidence["reconnect.first_delay"]?.number) < 0.9, "\(episode.json)")
        #expect(episode.json["outcome"]?.string == "reconnected")
    }

    @Test("aiohttp in a naive retry loop: no-backoff after 1013, retry-pointless after 1002", .enabled(if: canCapture), arguments: [
        (1013, 3, "no-backoff-overload", "no-backoff"),
        (1002, 100, "retry-pointless", "retry-pointless"),
    ])
    func aiohttpNaiveLoop(code: Int, closes: Int, id: String, category: String) async throws {
        let episode = try await reconnectEpisode(op: "aiohttp_naive_loop", closes: closes, code: code, extra: ["tries": 6])
        if code == 1013 {
            expectEpisode(episode, id: id, category: category, afterCode: code, attempts: 3)
            #expect(episode.json["outcome"]?.string == "reconnected")
        } else {
            // Six connections, every one closed 1002: five attempts, each met the same refusal.
            expectEpisode(episode, id: id, category: category, afterCode: code, attempts: 5)
            #expect(episode.evidence["reconnect.repeats"]?.int == 5, "\(episode.json)")
            #expect(episode.json["outcome"]?.string == "still-trying")
        }
        #expect(episode.delays.allSatisfy { $0 < 0.5 }, "\(episode.json)")
    }

    @Test("a client backing off from 1 s, doubling, with jitter: backoff-ok on its first delay and growth", .enabled(if: canCapture))
    func backoffClient() async throws {
        let episode = try await reconnectEpisode(op: "backoff_client", closes: 3, code: 1013)
        expectEpisode(episode, id: "backoff-ok", category: "backoff-ok", afterCode: 1013, attempts: 3)
        let slept = episode.client["slept"]?.array?.compactMap(\.number) ?? []
        #expect(slept.count == 3, "\(episode.client)")
        // Each delay wsdoctor measured is the client's sleep plus the time it took to see the
        // connection end and to connect again: milliseconds, more on a loaded machine.
        for (measured, asleep) in zip(episode.delays, slept) {
            #expect(measured >= asleep - 0.01 && measured < asleep + 1, "measured \(episode.delays), slept \(slept)")
        }
        let growth = try #require(episode.evidence["reconnect.growth"]?.number, "\(episode.json)")
        #expect(growth >= 1.3, "\(episode.json)")
        // Three delays are too few to tell jitter from chance: it is left unmeasured, not guessed.
        #expect(episode.json["jitter"] == .null, "\(episode.json)")
        #expect(try #require(episode.evidence["reconnect.first_delay"]?.number) >= 0.9, "\(episode.json)")
    }

    @Test("websockets' loop after a 1008 for an expired token comes back with the same token: same-token", .enabled(if: canCapture))
    func expiredTokenReused() async throws {
        let episode = try await reconnectEpisode(op: "websockets_reconnect", closes: 0, code: 1008, extra: ["lifetime": 2, "hold": 10.0])
        #expect(episode.client["refused"]?.int == 401, "the server refused the expired token: \(episode.client)")
        expectEpisode(episode, id: "same-token", category: "same-token", afterCode: 1008, attempts: 1)
        #expect(episode.evidence["reconnect.token_expired"]?.bool == true, "\(episode.json)")
        #expect(episode.evidence["reconnect.same_token"]?.bool == true, "\(episode.json)")
        #expect(!episode.json.description.contains("eyJ"), "the token is never printed: \(episode.json)")
    }
}

/// One client's reconnect episode as the proxy printed it, with what the client said.
struct ReconnectRun {
    var json: JSONValue
    var client: JSONValue
    var delays: [Double] { json["delays"]?.array?.compactMap(\.number) ?? [] }
    var evidence: JSONValue { json["diagnosis"]?["evidence"] ?? .null }
}

func expectEpisode(_ episode: ReconnectRun, id: String, category: String, afterCode: Int, attempts: Int,
                   sourceLocation: SourceLocation = #_sourceLocation) {
    expectDiagnosis(episode.json, id: id, category: category, sourceLocation: sourceLocation)
    #expect(episode.json["after_code"]?.int == afterCode, "\(episode.json)", sourceLocation: sourceLocation)
    #expect(episode.json["attempts"]?.int == attempts, "\(episode.json)", sourceLocation: sourceLocation)
    #expect(episode.delays.count == attempts, "\(episode.json)", sourceLocation: sourceLocation)
    let after = episode.evidence["reconnect.after"]?.string ?? ""
    #expect(after.hasPrefix("close \(afterCode) "), "the summary cites the close: \(episode.json)", sourceLocation: sourceLocation)
}

/// Runs peers.py's `op` against /shed (or /stream when a token `lifetime` is given) through a proxy,
/// with tcpdump recording the client's leg; returns the one episode the proxy printed, after
/// checking that replaying the capture gives the same episode.
///
/// `proxyArguments` go to the proxy only (e.g. `--faults`): replay judges the same capture
/// without them. `path` replaces /shed's.
func reconnectEpisode(op: String, closes: Int, code: Int, extra: [String: any Sendable] = [:],
                      proxyArguments: [String] = [], path: String? = nil,
                      sourceLocation: SourceLocation = #_sourceLocation) async throws -> ReconnectRun {
    var arguments = extra
    arguments["path"] = path ?? (op == "websockets_reconnect" && extra["lifetime"] != nil ? "/stream" : "/shed?closes=\(closes)&code=\(code)")
    // These end while still refused: the episode comes at stop.
    let linger = op == "aiohttp_naive_loop" || extra["lifetime"] != nil ? 0.6 : 0.3
    return try await reconnectEpisodes([ReconnectClient(op: op, arguments: arguments)], proxyArguments: proxyArguments,
                                       linger: linger, sourceLocation: sourceLocation)[0]
}

/// One client of a reconnect test: peers.py's `op` with its arguments (`path` among them);
/// the port, a fresh X-Client-Id and `hold` (2 s unless given) are added.
struct ReconnectClient: Sendable {
    var op: String
    var arguments: [String: any Sendable]
}

/// Runs `clients` at once through a proxy, with tcpdump recording the clients' leg (or, with
/// `sniff`, straight to a server of their own that `wsdoctor sniff --write` watches); returns
/// each client's one episode as it was printed live, after checking that replaying the
/// captures (tcpdump's, the proxy's --record, sniff's --write) gives the same episodes.
/// `inspectCapture` gets tcpdump's capture, or sniff's.
///
/// `trackerArguments` (e.g. `--reconnect-give-up`) go to the live run and to replay;
/// `proxyArguments` to the proxy only. `afterClients` runs once the clients are done, with
/// the port they used and the live process (to wait for what it prints, or make more traffic); `linger` is waited before stopping.
func reconnectEpisodes(_ clients: [ReconnectClient], proxyArguments: [String] = [], trackerArguments: [String] = [],
                       sniff: Bool = false, linger: Double = 0.3,
                       afterClients: (Int, any ReportingProcess) async throws -> Void = { _, _ in },
                       inspectCapture: (URL) throws -> Void = { _ in },
                       sourceLocation: SourceLocation = #_sourceLocation) async throws -> [ReconnectRun] {
    let peers = try PeerHost.shared
    let clientIDs = clients.map { _ in freshTag() }
    let keyArguments = ["--client-key", "header:X-Client-Id", "--reconnect-settle", "1"] + trackerArguments
    let capture = FileManager.default.temporaryDirectory.appendingPathComponent("wsdoctor-reconnect-\(UUID().uuidString).pcap")
    let recording = FileManager.default.temporaryDirectory.appendingPathComponent("wsdoctor-reconnect-record-\(UUID().uuidString).pcap")
    defer {
        try? FileManager.default.removeItem(at: capture)
        try? FileManager.default.removeItem(at: recording)
    }
    let live: any ReportingProcess
    let port: Int
    if sniff {
        // A server of its own: the capture holds only this test's connections.
        let server = try await peers.run("new_server", ["routed": true])
        port = try #require(server["port"]?.int)
        live = try await SniffProcess.start(port: port, extraArguments: keyArguments + ["--write", recording.path])
    } else {
        let proxy = try await ProxyProcess.start(upstreamPort: peers.mainPort, extraArguments: keyArguments + proxyArguments + ["--record", recording.path])
        port = proxy.port
        live = proxy
    }
    defer { live.cleanUp() }
    // sniff writes what it captured (--write): a second capture of its packets would only
    // compete with it for them.
    let tcpdump = sniff ? nil : try await TcpdumpProcess.start(filter: "tcp port \(port)", writing: capture)
    defer { tcpdump?.cleanUp() }
    let said = try await withThrowingTaskGroup(of: (Int, JSONValue).self) { group in
        for (index, client) in clients.enumerated() {
            var arguments: [String: any Sendable] = ["port": port, "client_id": clientIDs[index], "hold": 2.0]
            for (name, value) in client.arguments { arguments[name] = value }
            let sendable = arguments
            group.addTask { (index, try await peers.run(client.op, sendable, timeout: 40)) }
        }
        var said = [JSONValue](repeating: .null, count: clients.count)
        for try await (index, answer) in group { said[index] = answer }
        return said
    }
    try await afterClients(port, live)
    try await Task.sleep(for: .seconds(linger))
    try await tcpdump?.stop()
    let (status, objects) = try await live.stop(signal: SIGINT)
    #expect(status == 0, "stderr: \(live.stderr.text)", sourceLocation: sourceLocation)
    try inspectCapture(sniff ? recording : capture)

    // The proxy's own recording carries the very timestamps it judged by: the same
    // episode to the millisecond. tcpdump stamps packets in the kernel, the proxy when its
    // event loop reads them: on a loaded machine those differ by tens of ms, at times
    // up to 0.9 s (seen while the whole suite ran at load 24 on 2 cores). Against tcpdump
    // the verdict and the counts must agree; the delays, within a second.
    // --record keeps what the peers sent, not wsdoctor's faults; tcpdump on the client's
    // leg has what the client got, the injected close or refusal included. sniff's own
    // capture has the packets and stamps it judged by.
    let replays = sniff ? [(recording, 0.0015)] : proxyArguments.contains("--faults") ? [(capture, 1.0)] : [(recording, 0.0015), (capture, 1.0)]
    let replayed = try replays.map { file, tolerance in (file, tolerance, try replayJSON(file, arguments: keyArguments, type: "reconnects")) }
    var runs: [ReconnectRun] = []
    for (index, clientID) in clientIDs.enumerated() {
        let episodes = objects.filter { $0["type"]?.string == "reconnects" && $0["client"]?.string == clientID }
        #expect(episodes.count == 1, "one episode for \(clientID): \(episodes)", sourceLocation: sourceLocation)
        let episode = try #require(episodes.first, "no episode for \(clientID); printed:\n\(live.stdout.text)", sourceLocation: sourceLocation)
        for (file, tolerance, objects) in replayed {
            let offline = objects.filter { $0["client"]?.string == clientID }
            #expect(offline.count == 1, "replay of \(file.lastPathComponent) gives one episode for \(clientID) too: \(objects)", sourceLocation: sourceLocation)
            guard let offline = offline.first else { continue }
            for field in ["client", "path", "after_code", "after_status", "attempts", "outcome", "same_token"] {
                #expect(offline[field] == episode[field], "\(field): live \(episode) vs replay \(offline)", sourceLocation: sourceLocation)
            }
            #expect(offline["diagnosis"]?["id"] == episode["diagnosis"]?["id"], "live \(episode) vs replay \(offline)", sourceLocation: sourceLocation)
            let liveDelays = episode["delays"]?.array?.compactMap(\.number) ?? []
            let offlineDelays = offline["delays"]?.array?.compactMap(\.number) ?? []
            #expect(liveDelays.count == offlineDelays.count && zip(liveDelays, offlineDelays).allSatisfy { abs($0 - $1) <= tolerance },
                    "delays live \(liveDelays) vs replay of \(file.lastPathComponent) \(offlineDelays)", sourceLocation: sourceLocation)
        }
        runs.append(ReconnectRun(json: episode, client: said[index]))
    }
    return runs
}

extension ProxyTests {
    @Test("10 aiohttp clients closed with 1012 together come back in the same second: reconnect-storm, counted in /metrics")
    func reconnectStorm() async throws {
        let peers = try PeerHost.shared
        let prefix = freshTag()
        // The storm threshold is rule data (20 clients by default); ten Python clients in the
        // shared peer process come back together even while the rest of the suite runs.
        let rules = FileManager.default.temporaryDirectory.appendingPathComponent("wsdoctor-storm-\(UUID().uuidString).yaml")
        defer { try? FileManager.default.removeItem(at: rules) }
        try """
            rules:
              - id: reconnect-storm
                category: reconnect-storm
                priority: 130
                when:
                  fact: reconnect.back_together
                  at_least: 5
                summary: "{reconnect.back_together} clients came back within 1 s after {reconnect.after}, spread over {reconnect.spread} s (per 0.1 s: {reconnect.spread_histogram})."
                explanation: "A test's small storm."
                fix: "Add jitter."
            """.write(to: rules, atomically: true, encoding: .utf8)
        let arguments = ["--client-key", "header:X-Client-Id", "--reconnect-settle", "1", "--admin", "127.0.0.1:0", "--rules", rules.path]
        try await withProxy(upstream: peers.mainPort, extraArguments: arguments) { proxy in
            let notice = try await poll("the admin notice") { () -> String? in
                proxy.stdout.lines.compactMap { JSONValue.parse(String($0))?["message"]?.string }.first { $0.hasPrefix("admin endpoint on ") }
            }
            let base = String(notice.dropFirst("admin endpoint on ".count).prefix { $0 != " " })
            let client = try await peers.run("aiohttp_storm", ["port": proxy.port, "path": "/shed?closes=1&code=1012",
                                                               "client_prefix": prefix, "clients": 10, "hold": 2.0], timeout: 40)
            #expect(client["connections"]?.int == 20, "\(client)")
            let episodes = try await poll("10 episodes; printed:\n\(proxy.stdout.text)") { () -> [JSONValue]? in
                let found = proxy.objects.filter { $0["type"]?.string == "reconnects" && $0["client"]?.string?.hasPrefix(prefix) == true }
                return found.count >= 10 ? found : nil
            }
            for episode in episodes {
                expectDiagnosis(episode, id: "reconnect-storm", category: "reconnect-storm")
                #expect(episode["after_code"]?.int == 1012 && episode["attempts"]?.int == 1, "\(episode)")
                let together = episode["diagnosis"]?["evidence"]?["reconnect.back_together"]?.int ?? 0
                #expect(together >= 5 && together <= 10, "\(episode)")
                let histogram = episode["diagnosis"]?["evidence"]?["reconnect.spread_histogram"]?.array?.compactMap { $0.string.flatMap { Int($0) } } ?? []
                #expect(histogram.reduce(0, +) == together, "the spread counts every one of them: \(episode)")
            }
            let (_, metrics) = try scrape(base + "/metrics")
            #expect(sample(metrics, #"wsdoctor_reconnects_total{category="reconnect-storm"}"#) == 10, "\(metrics)")
            _ = try await proxy.stop(signal: SIGINT)
        }
    }
}

extension ProxyTests.ReconnectLiveTests {
    /// A fault file closing the first three connections to /shed with 1013 on the upgrade.
    func overloadFaults() throws -> URL {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("wsdoctor-overload-\(UUID().uuidString).yaml")
        try """
            faults:
              - id: overload
                action: close
                code: 1013
                reason: try again later
                toward: client
                match: {path: /shed}
                count: 3
            """.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    @Test("an overload injected by --faults, and how the client comes back: websockets' loop no-backoff, a backing-off client backoff-ok",
          .enabled(if: canCapture), arguments: [("websockets_reconnect", "no-backoff-overload", "no-backoff"), ("backoff_client", "backoff-ok", "backoff-ok")])
    func injectedOverloadJudgesTheClient(op: String, id: String, category: String) async throws {
        let faults = try overloadFaults()
        defer { try? FileManager.default.removeItem(at: faults) }
        // The server never closes (/shed with 0 closes): each 1013 is wsdoctor's.
        let episode = try await reconnectEpisode(op: op, closes: 0, code: 1000, proxyArguments: ["--faults", faults.path],
                                                 path: "/shed?closes=0&code=1000")
        expectEpisode(episode, id: id, category: category, afterCode: 1013, attempts: 3)
        #expect(episode.json["outcome"]?.string == "reconnected", "\(episode.json)")
    }
}

