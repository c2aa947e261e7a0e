import Foundation
import Testing
import WireTestSupport

/// The reconnect verdicts the first live tests (ReconnectTests.swift) left to unit tests,
/// each from real clients through the proxy (or watched by sniff), and again from replay of
/// a tcpdump capture of the same run. peers.py's `paced_client` waits exactly what the test
/// says after each failure, so a verdict that depends on timing is decided by the client's
/// design, with room for the timer noise of a loaded machine, not by luck.
///
/// A suite of their own (with the tests in ReconnectTests.swift), one at a time, with peers
/// of their own: delays are measured to the millisecond, and the shared peers' event loop,
/// busy with every other test's clients and servers, lags by up to seconds when the whole
/// suite runs on a loaded machine (servers closing late, clients coming back late).
extension ProxyTests {
    @Suite(.pythonPeers, .serialized) struct ReconnectLiveTests {}
}

extension ProxyTests.ReconnectLiveTests {
    @Test("a client resending what the server refused: retry-pointless after 1003 (binary to a text-only route) and 1007 (text that is not UTF-8)",
          .enabled(if: canCapture), arguments: [(1003, "/text-only", "binary"), (1007, "/echo", "bad-utf8")])
    func resendingClient(code: Int, path: String, send: String) async throws {
        let client = ReconnectClient(op: "paced_client", arguments: ["path": path, "waits": [0.2, 0.2, 0.2], "send": send])
        let episode = try await reconnectEpisodes([client], linger: 0.6)[0]
        let closes = episode.client["ends"]?.array?.compactMap { $0["close"]?.int }
        #expect(closes == [code, code, code, code], "the server refused every one: \(episode.client)")
        expectEpisode(episode, id: "retry-pointless", category: "retry-pointless", afterCode: code, attempts: 3)
        #expect(episode.evidence["reconnect.repeats"]?.int == 3, "\(episode.json)")
        #expect(episode.evidence["reconnect.attempts"]?.int == 3, "\(episode.json)")
        #expect(episode.json["diagnosis"]?["summary"]?.string?.contains("met the same refusal 3 times") == true, "\(episode.json)")
        #expect(episode.json["outcome"]?.string == "still-trying", "\(episode.json)")
    }

    @Test("a client waiting a random 1-1.5 s after 1012 before it comes back: restart-ok", .enabled(if: canCapture))
    func restartWait() async throws {
        let episode = try await reconnectEpisode(op: "backoff_client", closes: 1, code: 1012)
        expectEpisode(episode, id: "restart-ok", category: "backoff-ok", afterCode: 1012, attempts: 1)
        let slept = try #require(episode.client["slept"]?.array?.first?.number, "\(episode.client)")
        let firstDelay = try #require(episode.evidence["reconnect.first_delay"]?.number, "\(episode.json)")
        #expect(firstDelay >= 0.9 && firstDelay <= 5, "within the advice: \(episode.json)")
        // Never less than it slept; more by the time to wake and connect (up to 1.3 s seen
        // while the whole suite ran on a loaded machine: the advice's bound is the one judged).
        #expect(firstDelay >= slept - 0.01, "measured \(firstDelay), slept \(slept)")
        #expect(episode.json["outcome"]?.string == "reconnected", "\(episode.json)")
    }

    @Test("a client that does not come back after 1013: never-came-back once --reconnect-give-up passes, printed live before the stop", .enabled(if: canCapture))
    func clientGivesUp() async throws {
        let peers = try PeerHost.shared
        let client = ReconnectClient(op: "paced_client", arguments: ["path": "/shed?closes=1&code=1013", "waits": [Double]()])
        var waited = 0.0
        let episode = try await reconnectEpisodes([client], trackerArguments: ["--reconnect-give-up", "1"], afterClients: { port, live in
            // Live, the once-a-second sweep hands it on once the bound has passed.
            let clientDone = Date()
            _ = try await poll("the episode before the stop; printed:\n\(live.stdout.text)") {
                live.objects.first { $0["type"]?.string == "reconnects" }
            }
            waited = Date().timeIntervalSince(clientDone)
            // A capture tells time only by its packets: another client's session, on another
            // path, shows replay that the bound passed too.
            _ = try await peers.run("session", ["port": port, "path": "/echo", "messages": ["later"]])
        })[0]
        #expect(waited < 5, "the bound and a sweep, not the default two minutes: \(waited) s")
        #expect(episode.client["connections"]?.int == 1 && episode.client["ends"]?[0]?["close"]?.int == 1013, "\(episode.client)")
        expectEpisode(episode, id: "never-came-back", category: "gave-up", afterCode: 1013, attempts: 0)
        #expect(episode.evidence["reconnect.gave_up"]?.bool == true, "\(episode.json)")
        #expect(episode.json["outcome"]?.string == "gave-up", "\(episode.json)")
        #expect(episode.json["diagnosis"]?["summary"]?.string == "The client did not come back after close 1013 (Try Again Later).", "\(episode.json)")
    }
}

// MARK: - Refused upgrades

extension ProxyTests.ReconnectLiveTests {
    @Test("a server's 429 or 503 with Retry-After: 1 are attempts: aiohttp hammering ignores it (no-backoff), a client waiting what it asks honours it (backoff-ok)",
          .enabled(if: canCapture), arguments: [429, 503])
    func serverRefusals(status: Int) async throws {
        let path = "/busy?refusals=2&status=\(status)&retry_after=1"
        let runs = try await reconnectEpisodes([
            ReconnectClient(op: "aiohttp_naive_loop", arguments: ["path": path, "tries": 6]),
            // No backoff of its own: the even delays are the server's, and that is no fixed interval.
            ReconnectClient(op: "paced_client", arguments: ["path": path, "waits": [0.0, 0.0], "retry_after": true]),
        ])
        let (hammer, patient) = (runs[0], runs[1])
        #expect(hammer.client["connections"]?.int == 3, "two refusals, then in: \(hammer.client)")
        expectRefusalEpisode(hammer, id: "retry-after-ignored", category: "no-backoff", status: status, honoured: false)
        #expect(hammer.delays.allSatisfy { $0 < 0.9 }, "\(hammer.json)")

        let ends = patient.client["ends"]?.array ?? []
        #expect(ends.prefix(2).allSatisfy { $0["status"]?.int == status && $0["retry_after"]?.string == "1" }, "\(patient.client)")
        expectRefusalEpisode(patient, id: "retry-after-honoured", category: "backoff-ok", status: status, honoured: true)
        #expect(patient.delays.allSatisfy { $0 >= 0.99 && $0 < 1.5 }, "\(patient.json)")
    }

    @Test("refusals injected by --faults (refuse 503, Retry-After: 1, count: 2) are the client's attempts too, judged against the Retry-After",
          .enabled(if: canCapture), arguments: [
              ("aiohttp_naive_loop", "retry-after-ignored", "no-backoff"),
              ("paced_client", "retry-after-honoured", "backoff-ok"),
          ])
    func injectedRefusals(op: String, id: String, category: String) async throws {
        let faults = FileManager.default.temporaryDirectory.appendingPathComponent("wsdoctor-refuse-\(UUID().uuidString).yaml")
        defer { try? FileManager.default.removeItem(at: faults) }
        try """
            faults:
              - {id: busy, action: refuse, status: 503, retry_after: 1, match: {path: /shed}, count: 2}
            """.write(to: faults, atomically: true, encoding: .utf8)
        // The server never refuses (/shed with 0 closes): each 503 is wsdoctor's.
        let arguments: [String: any Sendable] = op == "aiohttp_naive_loop" ? ["tries": 6] : ["waits": [0.0, 0.0], "retry_after": true]
        var client = ReconnectClient(op: op, arguments: arguments)
        client.arguments["path"] = "/shed?closes=0&code=1000"
        let episode = try await reconnectEpisodes([client], proxyArguments: ["--faults", faults.path])[0]
        expectRefusalEpisode(episode, id: id, category: category, status: 503, honoured: op == "paced_client")
    }

    /// Two refusals with Retry-After: 1, then in.
    func expectRefusalEpisode(_ episode: ReconnectRun, id: String, category: String, status: Int, honoured: Bool,
                              sourceLocation: SourceLocation = #_sourceLocation) {
        expectDiagnosis(episode.json, id: id, category: category, sourceLocation: sourceLocation)
        #expect(episode.json["after_code"] == .null && episode.json["after_status"]?.int == status, "\(episode.json)", sourceLocation: sourceLocation)
        #expect(episode.json["attempts"]?.int == 2 && episode.delays.count == 2, "\(episode.json)", sourceLocation: sourceLocation)
        #expect(episode.evidence["reconnect.after"]?.string == "a refused upgrade (HTTP \(status))", "the summary cites the refusal: \(episode.json)",
                sourceLocation: sourceLocation)
        #expect(episode.evidence["reconnect.retry_after"]?.number == 1, "\(episode.json)", sourceLocation: sourceLocation)
        #expect(episode.evidence["reconnect.retry_after_honoured"]?.bool == honoured, "\(episode.json)", sourceLocation: sourceLocation)
        #expect(episode.json["outcome"]?.string == "reconnected", "\(episode.json)", sourceLocation: sourceLocation)
    }
}

// MARK: - Who the client is, and sniff

extension ProxyTests.ReconnectLiveTests {
    @Test("--client-key header:X-Client-Id tells apart two clients behind one address, one hammering, one backing off; by address they are one",
          .enabled(if: canCapture))
    func twoClientsOneAddress() async throws {
        let path = "/shed?closes=2&code=1013"
        var byAddress: [JSONValue] = []
        let runs = try await reconnectEpisodes([
            ReconnectClient(op: "aiohttp_naive_loop", arguments: ["path": path, "tries": 6]),
            ReconnectClient(op: "backoff_client", arguments: ["path": path]),
        ], linger: 0.6, inspectCapture: { capture in
            byAddress = try replayJSON(capture, arguments: ["--client-key", "address", "--reconnect-settle", "1"], type: "reconnects")
        })
        expectEpisode(runs[0], id: "no-backoff-overload", category: "no-backoff", afterCode: 1013, attempts: 2)
        expectEpisode(runs[1], id: "backoff-ok", category: "backoff-ok", afterCode: 1013, attempts: 2)
        #expect(runs[0].json["client"] != runs[1].json["client"])
        #expect(!byAddress.isEmpty && byAddress.allSatisfy { $0["client"]?.string == "127.0.0.1" }, "\(byAddress)")
    }

    @Test("--client-key refuses a header that carries a credential, in one line, before anything listens or reads",
          arguments: ["header:Authorization", "header:cookie", "header:Sec-WebSocket-Key"])
    func clientKeyRefusesCredentials(key: String) throws {
        let name = String(key.dropFirst("header:".count))
        for command in [["proxy", "--listen", "127.0.0.1:0", "--upstream", "ws://127.0.0.1:9"], ["sniff", "--interface", "lo"], ["replay", "/nonexistent.pcap"]] {
            let (status, stderr) = try wsdoctorExit(command + ["--client-key", key], environment: [:])
            #expect(status == 64 || status == 2, "\(command[0]): \(status) \(stderr)")
            let lines = stderr.split(separator: "\n").filter { $0.contains("--client-key") }
            #expect(lines.count == 1 && lines[0].contains("cannot use \(name): it carries a credential"), "\(command[0]): \(stderr)")
        }
    }

    @Test("sniff on the loopback follows the same episodes as the proxy, and replay of what it captured (--write) gives them again", .enabled(if: canCapture))
    func sniffFollowsEpisodes() async throws {
        let path = "/shed?closes=2&code=1013"
        let runs = try await reconnectEpisodes([
            ReconnectClient(op: "aiohttp_naive_loop", arguments: ["path": path, "tries": 6]),
            ReconnectClient(op: "paced_client", arguments: ["path": path, "waits": [1.0, 2.0]]),
        ], sniff: true)
        expectEpisode(runs[0], id: "no-backoff-overload", category: "no-backoff", afterCode: 1013, attempts: 2)
        expectEpisode(runs[1], id: "backoff-ok", category: "backoff-ok", afterCode: 1013, attempts: 2)
        for run in runs { #expect(run.json["outcome"]?.string == "reconnected", "\(run.json)") }
        #expect(runs[1].delays.count == 2 && runs[1].delays[0] >= 0.99 && runs[1].delays[1] >= 1.99, "\(runs[1].json)")
    }
}

// MARK: - Timing verdicts

extension ProxyTests.ReconnectLiveTests {
    @Test("a client coming back every 1.0 s exactly after 1013: fixed-interval", .enabled(if: canCapture))
    func fixedIntervalClient() async throws {
        let client = ReconnectClient(op: "paced_client", arguments: ["path": "/shed?closes=3&code=1013", "waits": [1.0, 1.0, 1.0]])
        let episode = try await reconnectEpisodes([client])[0]
        expectEpisode(episode, id: "fixed-interval", category: "fixed-interval", afterCode: 1013, attempts: 3)
        // Each delay is the 1.0 s wait plus the time to see the end and connect again.
        #expect(episode.delays.allSatisfy { $0 >= 0.99 && $0 < 1.25 }, "\(episode.json)")
        let growth = try #require(episode.evidence["reconnect.growth"]?.number, "\(episode.json)")
        #expect(growth > 0.8 && growth < 1.25, "\(episode.json)")
        #expect(episode.json["outcome"]?.string == "reconnected", "\(episode.json)")
    }

    @Test("a client growing its delay exactly 1.5× each time (0.6 to 3 s) after 1011: no-jitter, its timer noise not taken for jitter",
          .enabled(if: canCapture))
    func noJitterClient() async throws {
        let waits = (0..<5).map { 0.6 * pow(1.5, Double($0)) }
        let client = ReconnectClient(op: "paced_client", arguments: ["path": "/shed?closes=5&code=1011", "waits": waits, "hold": 1.5])
        let episode = try await reconnectEpisodes([client])[0]
        expectEpisode(episode, id: "no-jitter", category: "no-jitter", afterCode: 1011, attempts: 5)
        // Late by what it took to see the end, wake up and connect: milliseconds, up to
        // tenths of a second on a loaded machine (the rule allows 0.1 s per delay).
        for (measured, wait) in zip(episode.delays, waits) {
            #expect(measured >= wait - 0.01 && measured < wait + 0.3, "measured \(episode.delays), waited \(waits)")
        }
        let growth = try #require(episode.evidence["reconnect.growth"]?.number, "\(episode.json)")
        #expect(growth > 1.3 && growth < 1.7, "\(episode.json)")
        let jitter = try #require(episode.evidence["reconnect.jitter"]?.number, "\(episode.json)")
        #expect(jitter < 0.02, "\(episode.json)")
        #expect(episode.json["diagnosis"]?["summary"]?.string?.contains("carry no jitter") == true, "\(episode.json)")
    }
}
