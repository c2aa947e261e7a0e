import Foundation
import Testing

/// `wsdoctor proxy --faults`: each action injected on purpose between real peers (the
/// websockets server and client, aiohttp's server), with the diagnosis of the connection it
/// hit, always reported as wsdoctor's own.
extension ProxyTests {
    /// Runs `body` with a proxy injecting the faults of `yaml`.
    func withFaults<T>(_ yaml: String, upstream: Int, format: String = "json", extraArguments: [String] = [],
                       _ body: (ProxyProcess) async throws -> T) async throws -> T {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("faults-\(freshTag()).yaml")
        try Data(("faults:\n" + yaml).utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        return try await withProxy(upstream: upstream, format: format, extraArguments: ["--faults", file.path] + extraArguments, body)
    }

    /// The connection's `fault` object says wsdoctor did it, and what.
    func expectFault(_ connection: JSONValue, id: String, action: String, ended: Bool, done: String,
                     sourceLocation: SourceLocation = #_sourceLocation) {
        let fault = connection["fault"]
        #expect(fault?["id"]?.string == id, "\(connection)", sourceLocation: sourceLocation)
        #expect(fault?["action"]?.string == action, "\(connection)", sourceLocation: sourceLocation)
        #expect(fault?["by"]?.string == "wsdoctor", sourceLocation: sourceLocation)
        #expect(fault?["ended_connection"]?.bool == ended, "\(connection)", sourceLocation: sourceLocation)
        #expect(fault?["done"]?.string?.contains(done) == true, "\(fault?["done"]?.string ?? "no fault"): \(connection)", sourceLocation: sourceLocation)
        #expect(connection["diagnosis"]?["evidence"]?[ended ? "fault.ended_connection" : "fault.injected"]?.bool == true,
                "\(connection)", sourceLocation: sourceLocation)
        #expect(connection["diagnosis"]?["summary"]?.string?.contains(id) == true, "\(connection)", sourceLocation: sourceLocation)
    }

    /// The proxy's `/metrics` (started with `--admin 127.0.0.1:0`).
    func scrapeAdmin(_ proxy: ProxyProcess) async throws -> String {
        let notice = try await poll("the admin notice") { () -> String? in
            proxy.stdout.lines.compactMap { JSONValue.parse(String($0))?["message"]?.string }.first { $0.hasPrefix("admin endpoint on ") }
        }
        let base = String(notice.dropFirst("admin endpoint on ".count).prefix { $0 != " " })
        return try scrape(base + "/metrics").body
    }

    @Test("close toward the client after 2 messages: 1013 at a frame boundary, the handshake completed by wsdoctor")
    func faultClosesTheClient() async throws {
        let peers = try PeerHost.shared
        let tag = freshTag()
        let yaml = """
              - {id: overload, action: close, code: 1013, reason: try again later, toward: client, match: {path: /echo}, after_messages: 2}
            """
        try await withFaults(yaml, upstream: peers.mainPort, extraArguments: ["--admin", "127.0.0.1:0"]) { proxy in
            let client = try await peers.run("fault_client", ["port": proxy.port, "path": "/echo?tag=\(tag)", "messages": ["hello", "more"]])
            #expect(client["received"]?[0]?.string == "hello", "\(client)")
            #expect(client["close_rcvd"]?.int == 1013, "\(client)")
            #expect(client["close_reason"]?.string == "try again later", "\(client)")
            let server = try await peers.run("server_log", ["tag": tag])
            // The server got no close frame: only the TCP close, after the client's answer.
            #expect(server["log"]?["close_code"]?.int == 1006, "\(server)")
            let connection = try await proxy.connection(clientPort: try #require(client["local_port"]?.int))
            expectDiagnosis(connection, id: "fault-closed", category: "fault-injected")
            expectFault(connection, id: "overload", action: "close", ended: true,
                        done: "sent a close frame 1013 (try again later) to the client at a frame boundary")
            #expect(connection["fault"]?["sent_to_client"]?.string?.contains("answered; then the TCP close") == true, "\(connection)")
            #expect(connection["fault"]?["sent_to_server"]?.string == "only the TCP close", "\(connection)")
            #expect(connection["violations"]?.array?.isEmpty == true, "\(connection)")
            // The client's close frame answered wsdoctor's: the close is wsdoctor's, not the client's.
            #expect(connection["close"]?["initiator"]?.string == "wsdoctor", "\(connection)")
            #expect(connection["close"]?["echo_code"]?.int == 1013, "\(connection)")
            let metrics = try await scrapeAdmin(proxy)
            #expect(sample(metrics, #"wsdoctor_closes_total{code="1013",category="fault-injected",initiator="wsdoctor"}"#) == 1, "\(metrics)")
        }
    }

    @Test("close toward the server is masked as a client's: the websockets server answers it")
    func faultClosesTheServer() async throws {
        let peers = try PeerHost.shared
        let tag = freshTag()
        try await withFaults("  - {id: away, action: close, code: 1001, toward: server}\n", upstream: peers.mainPort) { proxy in
            let client = try await peers.run("fault_client", ["port": proxy.port, "path": "/echo?tag=\(tag)", "messages": [String](), "wait": 1.0])
            let server = try await peers.run("server_log", ["tag": tag])
            // An unmasked frame would have been failed with 1002; this one was taken as the client's close.
            #expect(server["log"]?["close_rcvd"]?.int == 1001, "\(server)")
            #expect(client["close_rcvd"] == .null, "the client got only the TCP close: \(client)")
            let connection = try await proxy.connection(clientPort: try #require(client["local_port"]?.int))
            expectDiagnosis(connection, id: "fault-closed", category: "fault-injected")
            expectFault(connection, id: "away", action: "close", ended: true, done: "sent a close frame 1001 (Going Away) to the server")
        }
    }

    @Test("close toward both: each side gets its own close frame and answers it")
    func faultClosesBothSides() async throws {
        let peers = try PeerHost.shared
        let tag = freshTag()
        try await withFaults("  - {id: bye, action: close, code: 1001, reason: going away, toward: both, after_messages: 2}\n", upstream: peers.mainPort) { proxy in
            let client = try await peers.run("fault_client", ["port": proxy.port, "path": "/echo?tag=\(tag)", "messages": ["hello", "more"]])
            #expect(client["close_rcvd"]?.int == 1001, "\(client)")
            let server = try await peers.run("server_log", ["tag": tag])
            #expect(server["log"]?["close_rcvd"]?.int == 1001, "\(server)")
            let connection = try await proxy.connection(clientPort: try #require(client["local_port"]?.int))
            expectDiagnosis(connection, id: "fault-closed", category: "fault-injected")
            expectFault(connection, id: "bye", action: "close", ended: true, done: "to the client and the server")
            for side in ["sent_to_client", "sent_to_server"] {
                #expect(connection["fault"]?[side]?.string?.contains("1001 (going away) from wsdoctor, answered") == true, "\(connection)")
            }
            // Both close frames are answers to wsdoctor's: neither peer started the close.
            #expect(connection["close"]?["initiator"]?.string == "wsdoctor", "\(connection)")
            #expect(connection["close"]?["echo_by"]?.string == "client", "\(connection)")
            #expect(connection["close"]?["handshake_complete"]?.bool == true, "\(connection)")
        }
    }

    @Test("refuse: 429 with Retry-After, for the first connection only (count: 1)")
    func faultRefuses() async throws {
        let peers = try PeerHost.shared
        try await withFaults("  - {id: busy, action: refuse, status: 429, retry_after: 7, match: {path: \"/ech*\"}, count: 1}\n",
                             upstream: peers.mainPort) { proxy in
            let refused = try await peers.run("fault_client", ["port": proxy.port, "path": "/echo", "messages": ["hello"]])
            #expect(refused["status"]?.int == 429, "\(refused)")
            #expect(refused["retry_after"]?.string == "7", "\(refused)")
            #expect(refused["body"]?.string?.contains("fault busy") == true, "\(refused)")
            let first = try await proxy.waitForConnections(1)[0]
            expectDiagnosis(first, id: "fault-closed", category: "fault-injected")
            expectFault(first, id: "busy", action: "refuse", ended: true, done: "answered the upgrade request HTTP 429 Too Many Requests (Retry-After: 7)")
            #expect(first["traffic"]?["server"]?["bytes"]?.int == 0, "the server was never asked: \(first)")

            let second = try await peers.run("fault_client", ["port": proxy.port, "path": "/echo", "messages": ["hello"], "wait": 0.2])
            #expect(second["received"]?[0]?.string == "hello", "\(second)")
            let connection = try await proxy.connection(clientPort: try #require(second["local_port"]?.int))
            expectDiagnosis(connection, id: "normal-close", category: "normal")
            #expect(connection["fault"] == nil, "\(connection)")
        }
    }

    @Test("refuse answers the upgrade without contacting the server: its upstream accepts no TCP connection")
    func faultRefusesWithoutContactingTheServer() async throws {
        let peers = try PeerHost.shared
        let upstream = try await peers.run("counting_server")
        let server = try #require(upstream["server"]?.int)
        try await withFaults("  - {id: closed, action: refuse, status: 503, retry_after: 30, count: 1}\n",
                             upstream: try #require(upstream["port"]?.int)) { proxy in
            let refused = try await peers.run("fault_client", ["port": proxy.port, "path": "/echo", "messages": ["hello"]])
            #expect(refused["status"]?.int == 503, "\(refused)")
            #expect(refused["retry_after"]?.string == "30", "\(refused)")
            let connection = try await proxy.waitForConnections(1)[0]
            expectFault(connection, id: "closed", action: "refuse", ended: true, done: "; the server was never contacted")
            #expect(connection["fault"]?["sent_to_server"]?.string == "nothing (wsdoctor never connected to it)", "\(connection)")
            #expect(connection["handshake"]?["path"]?.string == "/echo", "the request was still analysed: \(connection)")
            // Long enough for a connect to the upstream started with the client's to have been accepted.
            try await Task.sleep(for: .milliseconds(300))
            let untouched = try await peers.run("counting_server_result", ["server": server, "stop": false])
            #expect(untouched["accepted"]?.int == 0, "the refused client cost a connection to the server: \(untouched)")
            // The next client is not refused (count: 1): its upgrade reaches the upstream, so the count works.
            _ = try await peers.run("raw_exchange", ["port": proxy.port, "data_b64": Data(rawUpgradeRequest("/echo").utf8).base64EncodedString()])
            let reached = try await peers.run("counting_server_result", ["server": server])
            #expect(reached["accepted"]?.int == 1, "\(reached)")
        }
    }

    @Test("with faults, a client that never finishes its head gets 408, and what it sends after costs no connection to the server")
    func faultsHeadTimeoutContactsNoServer() async throws {
        let peers = try PeerHost.shared
        let upstream = try await peers.run("counting_server")
        let server = try #require(upstream["server"]?.int)
        try await withFaults("  - {id: busy, action: refuse, status: 503}\n", upstream: try #require(upstream["port"]?.int),
                             extraArguments: ["--head-timeout", "1"]) { proxy in
            let client = try RawTCPClient(port: proxy.port)
            try client.send("GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            let answer = String(decoding: client.read(until: "\r\n\r\n"), as: UTF8.self)
            #expect(answer.hasPrefix("HTTP/1.1 408 "), "\(answer)")
            // More than a head may hold: read out and dropped, never a reason to connect upstream.
            try? client.send(String(repeating: "X-Filler: 0123456789\r\n", count: 1000))
            try await Task.sleep(for: .milliseconds(300))
            client.close()
            let counted = try await peers.run("counting_server_result", ["server": server])
            #expect(counted["accepted"]?.int == 0, "\(counted)")
        }
    }

    @Test("reset: both TCP connections reset after the first echo, no close frame")
    func faultResets() async throws {
        let peers = try PeerHost.shared
        try await withFaults("  - {id: rst, action: reset, after_messages: 2}\n", upstream: peers.mainPort, extraArguments: ["--admin", "127.0.0.1:0"]) { proxy in
            let client = try await peers.run("fault_client", ["port": proxy.port, "path": "/echo", "messages": ["hello", "more"]])
            #expect(client["received"]?.array?.count == 1, "\(client)")
            #expect(client["close_code"]?.int == 1006, "\(client)")
            let connection = try await proxy.connection(clientPort: try #require(client["local_port"]?.int))
            expectDiagnosis(connection, id: "fault-closed", category: "fault-injected")
            expectFault(connection, id: "rst", action: "reset", ended: true, done: "reset both TCP connections (RST)")
            let metrics = try await scrapeAdmin(proxy)
            #expect(sample(metrics, #"wsdoctor_faults_injected_total{action="reset"}"#) == 1, "\(metrics)")
        }
    }

    @Test("keepalive faults: pongs dropped toward the client, or pings toward the server; the websockets client times out", arguments: [
        ("drop-pongs", "client", "pong"), ("drop-pings", "server", "ping"),
    ])
    func faultBreaksKeepalive(action: String, toward: String, frame: String) async throws {
        let peers = try PeerHost.shared
        try await withFaults("  - {id: mute, action: \(action), toward: \(toward)}\n", upstream: peers.mainPort) { proxy in
            let client = try await peers.run("fault_client", ["port": proxy.port, "path": "/echo", "messages": ["hello"],
                                                              "wait": 4.0, "ping_interval": 0.5])
            #expect(client["close_sent"]?.int == 1011, "the client's keepalive failed: \(client)")
            let connection = try await proxy.connection(clientPort: try #require(client["local_port"]?.int))
            expectDiagnosis(connection, id: "fault-injected", category: "fault-injected")
            expectFault(connection, id: "mute", action: action, ended: false, done: "toward the \(toward)")
            #expect(connection["fault"]?["done"]?.string?.hasPrefix("dropped ") == true, "\(connection)")
            #expect(connection["close"]?["code"]?.int == 1011)
        }
    }

    @Test("corrupt-utf8 toward the client: its websockets fails the text with 1007; the server is not blamed")
    func faultCorruptsTextTowardTheClient() async throws {
        let peers = try PeerHost.shared
        try await withFaults("  - {id: garble, action: corrupt-utf8, toward: client}\n", upstream: peers.mainPort) { proxy in
            let client = try await peers.run("fault_client", ["port": proxy.port, "path": "/echo", "messages": ["héllo"]])
            #expect(client["close_sent"]?.int == 1007, "\(client)")
            let connection = try await proxy.connection(clientPort: try #require(client["local_port"]?.int))
            expectDiagnosis(connection, id: "fault-injected", category: "fault-injected")
            expectFault(connection, id: "garble", action: "corrupt-utf8", ended: false, done: "broke the UTF-8 of a text message toward the client")
            #expect(connection["violations"]?.array?.isEmpty == true, "the server's text was valid: \(connection)")
        }
    }

    @Test("corrupt-utf8 toward the server: the websockets server closes 1007")
    func faultCorruptsTextTowardTheServer() async throws {
        let peers = try PeerHost.shared
        try await withFaults("  - {id: garble, action: corrupt-utf8, toward: server}\n", upstream: peers.mainPort) { proxy in
            let client = try await peers.run("fault_client", ["port": proxy.port, "path": "/echo", "messages": ["hello"]])
            #expect(client["close_rcvd"]?.int == 1007, "\(client)")
            let connection = try await proxy.connection(clientPort: try #require(client["local_port"]?.int))
            expectDiagnosis(connection, id: "fault-injected", category: "fault-injected")
            expectFault(connection, id: "garble", action: "corrupt-utf8", ended: false, done: "toward the server")
        }
    }

    @Test("set-rsv1 toward the client: RSV1 without an extension, its websockets closes 1002")
    func faultSetsRSV1() async throws {
        let peers = try PeerHost.shared
        try await withFaults("  - {id: rsv, action: set-rsv1, toward: client}\n", upstream: peers.mainPort) { proxy in
            let client = try await peers.run("fault_client", ["port": proxy.port, "path": "/echo", "messages": ["hello"]])
            #expect(client["close_sent"]?.int == 1002, "\(client)")
            let connection = try await proxy.connection(clientPort: try #require(client["local_port"]?.int))
            expectDiagnosis(connection, id: "fault-injected", category: "fault-injected")
            expectFault(connection, id: "rsv", action: "set-rsv1", ended: false, done: "set RSV1 on data frame 0 toward the client")
        }
    }

    @Test("strip-extensions: aiohttp compresses, the websockets client was told it does not, and fails with 1002")
    func faultStripsExtensions() async throws {
        let peers = try PeerHost.shared
        let aiohttp = try await peers.run("aiohttp_server")
        try await withFaults("  - {id: plain, action: strip-extensions}\n", upstream: try #require(aiohttp["port"]?.int)) { proxy in
            let client = try await peers.run("fault_client", ["port": proxy.port, "path": "/ws-deflate", "compression": true,
                                                              "messages": [String(repeating: "compress me ", count: 20)]])
            #expect(client["extensions"] == .null, "the client saw no extension: \(client)")
            #expect(client["close_sent"]?.int == 1002, "\(client)")
            let connection = try await proxy.connection(clientPort: try #require(client["local_port"]?.int))
            expectDiagnosis(connection, id: "fault-injected", category: "fault-injected")
            expectFault(connection, id: "plain", action: "strip-extensions", ended: false, done: "removed Sec-WebSocket-Extensions from the server's 101")
            #expect(connection["handshake"]?["extensions"]?.array?.isEmpty == false, "the server did agree to it: \(connection)")
        }
    }

    @Test("stall and latency toward the client hold its echoes back by their time", arguments: [
        ("{id: hold, action: stall, toward: client, seconds: 1.5, after_messages: 2}", 1, 1.3, "held the bytes toward the client for 1.5 s"),
        ("{id: slow, action: latency, toward: client, ms: 400}", 0, 0.38, "delaying the bytes toward the client by 400 ms"),
    ])
    func faultDelays(fault: String, message: Int, atLeast: Double, done: String) async throws {
        let peers = try PeerHost.shared
        try await withFaults("  - \(fault)\n", upstream: peers.mainPort) { proxy in
            let client = try await peers.run("fault_client", ["port": proxy.port, "path": "/echo", "messages": ["one", "two"], "wait": 0.2])
            #expect(client["received"]?.array?.count == 2, "\(client)")
            let took = try #require(client["took"]?[message]?.number, "\(client)")
            #expect(took >= atLeast, "echo \(message) took \(took) s: \(client)")
            let connection = try await proxy.connection(clientPort: try #require(client["local_port"]?.int))
            expectDiagnosis(connection, id: "fault-injected", category: "fault-injected")
            let id = fault.contains("hold") ? "hold" : "slow"
            expectFault(connection, id: id, action: fault.contains("stall") ? "stall" : "latency", ended: false, done: done)
            #expect(connection["close"]?["code"]?.int == 1000)
        }
    }

    @Test("the text report shows the fault as wsdoctor's own, and the start-up line says traffic is altered")
    func faultInTheTextReport() async throws {
        let peers = try PeerHost.shared
        try await withFaults("  - {id: rst, action: reset, after_messages: 2}\n", upstream: peers.mainPort, format: "text") { proxy in
            #expect(proxy.stdout.lines.first?.contains("injecting 1 fault from ") == true, "\(proxy.stdout.text)")
            #expect(proxy.stdout.lines.first?.contains("(traffic is altered)") == true, "\(proxy.stdout.text)")
            _ = try await peers.run("fault_client", ["port": proxy.port, "path": "/echo", "messages": ["hello", "more"]])
            let text = try await poll("the text report") { () -> String? in
                let text = proxy.stdout.text
                return text.contains("diagnosis") ? text : nil
            }
            #expect(text.contains("fault      wsdoctor's own (not a peer's): rst (reset) at +"), "\(text)")
            #expect(text.contains("fault-injected: wsdoctor ended this connection on purpose: fault rst (reset)"), "\(text)")
        }
    }

    @Test("bad faults: one line naming file and line, exit 2, before anything listens", arguments: [
        ("  - {id: a, action: explode}", "unknown action `explode`"),
        ("  - {id: a, action: latency, toward: client}", "`latency` needs `ms`"),
        ("  - {id: a, action: close, code: 1006}", "close code 1006 may not be sent"),
        ("  - {id: a, action: reset, match: {path: chat}}", "`match.path` must start with `/`"),
    ])
    func badFaultsFile(entry: String, message: String) throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("faults-\(freshTag()).yaml")
        try Data("# faults\nfaults:\n\(entry)\n".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try wsdoctorExit(["proxy", "--listen", "127.0.0.1:0", "--upstream", "ws://127.0.0.1:9", "--faults", file.path],
                                      environment: [:])
        #expect(result.status == 2, "\(result)")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(lines.first?.hasPrefix("wsdoctor: \(file.path):3: ") == true, "\(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }
}
