import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Hostile clients: resets before the upstream is up, heads that never end, silent upstreams,
/// more clients than allowed. The proxy must lose no descriptor, keep serving, and say what
/// it did.
extension ProxyTests {
    /// The admin endpoint's base URL from the proxy's notice.
    func adminBase(_ proxy: ProxyProcess) async throws -> String {
        let notice = try await poll("the admin notice") { () -> String? in
            proxy.stdout.lines.compactMap { JSONValue.parse(String($0))?["message"]?.string }.first { $0.hasPrefix("admin endpoint on ") }
        }
        return String(notice.dropFirst("admin endpoint on ".count).prefix { $0 != " " })
    }

    /// Lowers the running proxy's descriptor limit (as `ulimit -n` would have); with `softOnly`
    /// the hard limit stays, so the soft one can be raised again.
    func limitDescriptors(of proxy: ProxyProcess, to limit: Int, softOnly: Bool = false) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/prlimit")
        process.arguments = ["--pid", "\(proxy.process.processIdentifier)", softOnly ? "--nofile=\(limit):" : "--nofile=\(limit):\(limit)"]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ProxyTestError("prlimit failed with \(process.terminationStatus)") }
    }

    @Test("clients that reset before the upstream is up leak no descriptor, under ulimit -n 256")
    func resetBeforeUpstreamLeaksNothing() async throws {
        let peers = try PeerHost.shared
        // An upstream of the test's own, in its own process (the flood must not slow the shared
        // peers), so every socket toward its port is the proxy's.
        let upstream = try await EchoServerProcess.start()
        defer { upstream.cleanUp() }
        let upstreamPort = upstream.port
        try await withProxy(upstream: upstreamPort, extraArguments: ["--admin", "127.0.0.1:0"]) { proxy in
            let base = try await adminBase(proxy)
            try limitDescriptors(of: proxy, to: 256)
            let baseline = openDescriptors(proxy.process.processIdentifier)
            var random = SystemRandomNumberGenerator()
            let heads: [[UInt8]] = [
                (0..<40).map { _ in UInt8.random(in: 0...255, using: &random) },
                Array("GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpg".utf8),
                Array("GET /plain HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8),
                Array("GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".utf8),
            ]
            let clients = 800
            for index in 0..<clients {
                let client = try RawTCPClient(port: proxy.port)
                try? client.send(heads[index % heads.count])
                client.reset()
            }
            // Every upstream leg is closed by the proxy: none left established, none in CLOSE-WAIT.
            let states = try await poll("the proxy's sockets toward the upstream to close; now \(socketStates(remotePort: upstreamPort))") { () -> [String: Int]? in
                let states = socketStates(remotePort: upstreamPort)
                return states.keys.allSatisfy({ $0 == "TIME_WAIT" }) ? states : nil
            }
            #expect(states["CLOSE_WAIT"] == nil)
            let descriptors = try await poll("the proxy's descriptors back to \(baseline) (now \(openDescriptors(proxy.process.processIdentifier)))") { () -> Int? in
                let now = openDescriptors(proxy.process.processIdentifier)
                return now <= baseline ? now : nil
            }
            #expect(descriptors <= baseline)

            // A normal client still gets through.
            let path = "/echo?tag=\(freshTag())"
            let session = try await peers.run("session", ["port": proxy.port, "path": path, "messages": ["hello"]])
            #expect(session["close_code"]?.int == 1000, "\(session)")
            let report = try await proxy.connection(clientPort: session["local_port"]?.int ?? 0, path: path)
            expectDiagnosis(report, id: "normal-close", category: "normal")

            let metrics = try await poll("wsdoctor_connections_active to return to 0") { () -> String? in
                let (status, body) = try scrape(base + "/metrics")
                return status == 200 && sample(body, "wsdoctor_connections_active") == 0 ? body : nil
            }
            #expect(sample(metrics, "wsdoctor_connections_total") == Double(clients + 1))
            // Each connection is reported once at most, with the client's address.
            let reports = proxy.connections
            let ids = reports.compactMap { $0["id"]?.int }
            #expect(Set(ids).count == ids.count, "a connection reported twice")
            #expect(reports.allSatisfy { $0["client"]?.string?.hasPrefix("127.0.0.1:") == true },
                    "\(reports.filter { $0["client"]?.string?.hasPrefix("127.0.0.1:") != true }.prefix(3))")
        }
    }

    @Test("a client stuck mid-frame at the drain timeout: the report says the server got only a TCP close")
    func drainReportSaysWhatEachSideGot() async throws {
        let peers = try PeerHost.shared
        let tag = freshTag()
        try await withProxy(upstream: peers.mainPort, extraArguments: ["--drain-timeout", "0.5"]) { proxy in
            let client = try RawTCPClient(port: proxy.port)
            try client.send(rawUpgradeRequest("/echo?tag=\(tag)"))
            let head = String(decoding: client.read(until: "\r\n\r\n"), as: UTF8.self)
            #expect(head.hasPrefix("HTTP/1.1 101"), "\(head)")
            // A masked binary frame announcing 100 bytes, 10 of them sent.
            try client.send([0x82, 0x80 | 100, 1, 2, 3, 4] + [UInt8](repeating: 0x55, count: 10))
            try await Task.sleep(for: .milliseconds(100))
            let connections = try await expectCleanStop(proxy, counts: ["restart": 1], signal: SIGTERM)
            let (bytes, ended) = client.readToEnd()
            #expect(ended)
            // A close frame 1012 from the server's side, unmasked.
            #expect(bytes.prefix(4) == [0x88, UInt8(2 + "service restart".utf8.count), 0x03, 0xF4], "\(bytes)")
            let server = try await peers.run("server_log", ["tag": tag])
            #expect(server["log"]?["close_rcvd"] == .null, "the server got no close frame: \(server)")

            let connection = try #require(connections.first)
            expectDiagnosis(connection, id: "proxy-shutdown", category: "restart")
            let summary = connection["diagnosis"]?["summary"]?.string ?? ""
            #expect(summary.contains("the client got a close frame 1012"), "\(summary)")
            #expect(summary.contains("the server got only the TCP close"), "\(summary)")
            #expect(!summary.contains("1001"), "\(summary)")
            let evidence = connection["diagnosis"]?["evidence"]
            #expect(evidence?["proxy.sent_to_client"]?.string == "a close frame 1012 (service restart)")
            #expect(evidence?["proxy.sent_to_server"]?.string?.hasPrefix("only the TCP close") == true, "\(String(describing: evidence))")
        }
    }
}

/// The proxy's own limits: each acts when hit, says so once a second at most, and is counted.
extension ProxyTests {
    /// The first notice printed whose message starts with `prefix`.
    func notice(_ proxy: ProxyProcess, startingWith prefix: String) async throws -> String {
        try await poll("a notice starting \"\(prefix)\"; printed so far:\n\(proxy.stdout.text)") { () -> String? in
            proxy.objects.compactMap { $0["type"]?.string == "notice" ? $0["message"]?.string : nil }.first { $0.hasPrefix(prefix) }
        }
    }

    @Test("the limits in effect are printed at start-up: 60 s by default, 0 turns a timeout off")
    func limitsAtStartUp() async throws {
        let peers = try PeerHost.shared
        try await withProxy(upstream: peers.mainPort) { proxy in
            let line = try await notice(proxy, startingWith: "limits: ")
            #expect(line.hasPrefix("limits: --head-timeout 60 s, --upgrade-timeout 60 s, --max-connections "), "\(line)")
            let maxConnections = try #require(Int(line.split(separator: " ").last ?? ""), "\(line)")
            #expect((1...10_000).contains(maxConnections))
        }
        try await withProxy(upstream: peers.mainPort, extraArguments: ["--head-timeout", "0", "--upgrade-timeout", "0", "--max-connections", "7"]) { proxy in
            let line = try await notice(proxy, startingWith: "limits: ")
            #expect(line == "limits: --head-timeout off, --upgrade-timeout off, --max-connections 7")
        }
        try await withProxy(upstream: peers.mainPort, extraArguments: ["--head-timeout", "2.5"]) { proxy in
            let line = try await notice(proxy, startingWith: "limits: ")
            #expect(line.hasPrefix("limits: --head-timeout 2.5 s, --upgrade-timeout 60 s, "), "\(line)")
        }
    }

    @Test("--head-timeout: a client that never completes its request head gets 408 and is reported so")
    func headTimeout() async throws {
        let peers = try PeerHost.shared
        try await withProxy(upstream: peers.mainPort, extraArguments: ["--head-timeout", "1", "--admin", "127.0.0.1:0"]) { proxy in
            let base = try await adminBase(proxy)
            let client = try RawTCPClient(port: proxy.port)
            // A slow-loris head: a few bytes at a time, never the blank line that ends it.
            // (On a loaded machine the timeout may come first: a refused send is fine.)
            for piece in ["GET /echo?tag=", freshTag(), " HTTP/1.1\r\nHo"] {
                try? client.send(piece)
                try await Task.sleep(for: .milliseconds(50))
            }
            let (bytes, ended) = client.readToEnd()
            let answer = String(decoding: bytes, as: UTF8.self)
            #expect(answer.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"), "\(answer)")
            #expect(ended)
            let report = try await proxy.connection(clientPort: client.localPort)
            expectDiagnosis(report, id: "proxy-head-timeout", category: "proxy-limit")
            #expect(report["diagnosis"]?["evidence"]?["proxy.sent_to_client"]?.string == "HTTP 408 Request Timeout")
            let line = try await notice(proxy, startingWith: "wsdoctor: --head-timeout 1.0 s: client 127.0.0.1:\(client.localPort)")
            #expect(line.contains("408"))
            let (_, metrics) = try scrape(base + "/metrics")
            #expect(sample(metrics, #"wsdoctor_limit_hits_total{limit="head_timeout"}"#) == 1, "\(metrics)")
            #expect(sample(metrics, #"wsdoctor_limit_hits_total{limit="upgrade_timeout"}"#) == 0)
            #expect(sample(metrics, "wsdoctor_connections_active") == 0)
        }
    }

    @Test("--upgrade-timeout: an upstream that never answers the upgrade gets the client a 504, reported so")
    func upgradeTimeout() async throws {
        let peers = try PeerHost.shared
        // Reads until the client's FIN before it answers anything: silent to an upgrade.
        let server = try await peers.run("raw_server", ["script_name": "large", "mode": "after-eof"])
        let upstreamPort = try #require(server["port"]?.int)
        try await withProxy(upstream: upstreamPort, extraArguments: ["--upgrade-timeout", "0.5"]) { proxy in
            let client = try RawTCPClient(port: proxy.port)
            try client.send(rawUpgradeRequest("/echo"))
            let (bytes, ended) = client.readToEnd()
            let answer = String(decoding: bytes, as: UTF8.self)
            #expect(answer.hasPrefix("HTTP/1.1 504 Gateway Timeout\r\n"), "\(answer)")
            #expect(ended)
            let report = try await proxy.connection(clientPort: client.localPort)
            expectDiagnosis(report, id: "proxy-upgrade-timeout", category: "proxy-limit")
            #expect(report["diagnosis"]?["evidence"]?["proxy.sent_to_client"]?.string == "HTTP 504 Gateway Timeout")
            _ = try await notice(proxy, startingWith: "wsdoctor: --upgrade-timeout 0.5 s: upstream 127.0.0.1:\(upstreamPort)")
            // (The raw server answers the proxy's close with its script, into a closed socket.)
            _ = try? await peers.run("raw_server_result", ["server": server["server"]?.int ?? 0])
        }
    }

    @Test("--max-connections: a client past it gets 503 with Retry-After; the others go on")
    func maxConnections() async throws {
        let peers = try PeerHost.shared
        try await withProxy(upstream: peers.mainPort, extraArguments: ["--max-connections", "2", "--admin", "127.0.0.1:0", "--drain-timeout", "0.2"]) { proxy in
            let base = try await adminBase(proxy)
            let first = try await peers.run("hold_open", ["port": proxy.port, "tag": freshTag()])
            let second = try await peers.run("hold_open", ["port": proxy.port, "tag": freshTag()])
            let refused = try await peers.run("rejected", ["port": proxy.port, "path": "/echo"])
            #expect(refused["status"]?.int == 503, "\(refused)")
            #expect(refused["retry_after"]?.string == "1", "\(refused)")
            _ = try await notice(proxy, startingWith: "wsdoctor: --max-connections 2 reached: client 127.0.0.1:")
            let (_, metrics) = try scrape(base + "/metrics")
            #expect(sample(metrics, #"wsdoctor_limit_hits_total{limit="max_connections"}"#) == 1, "\(metrics)")
            #expect(sample(metrics, "wsdoctor_connections_active") == 2)
            #expect(sample(metrics, "wsdoctor_connections_total") == 2, "a refused client is no relayed connection")
            // The two held sessions were never disturbed: SIGTERM's drain closes them as a restart.
            let connections = try await expectCleanStop(proxy, counts: ["restart": 2], signal: SIGTERM)
            #expect(connections.count == 2)
            for held in [first, second] {
                let client = try await peers.run("hold_wait_closed", ["hold": held["hold"]?.int ?? 0])
                #expect(client["close_rcvd"]?.int == 1012, "\(client)")
            }
        }
    }

    /// The descriptor limit that leaves process `pid` room for exactly one more: a new
    /// descriptor takes the lowest free number, and only numbers below the limit are allowed.
    func limitLeavingOneFree(_ pid: Int32) -> Int {
        let open = Set(((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).compactMap { Int($0) })
        var limit = 1
        while limit - open.filter({ $0 < limit }).count < 1 { limit += 1 }
        return limit
    }

    /// Process `pid`'s soft limit on open files, from /proc/PID/limits.
    func descriptorSoftLimit(_ pid: Int32) -> Int? {
        let limits = (try? String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8)) ?? ""
        let line = limits.split(separator: "\n").first { $0.hasPrefix("Max open files") }
        return line.flatMap { $0.dropFirst("Max open files".count).split(separator: " ").first.flatMap { Int($0) } }
    }

    @Test("out of descriptors connecting the upstream: the client gets 503, counted, logged, and the upstream is not blamed")
    func outOfDescriptorsConnectingUpstream() async throws {
        let peers = try PeerHost.shared
        try await withProxy(upstream: peers.mainPort, extraArguments: ["--admin", "127.0.0.1:0"]) { proxy in
            let base = try await adminBase(proxy)
            let pid = proxy.process.processIdentifier
            // Room for the accepted client's descriptor only: its upstream's socket fails with EMFILE.
            let soft = try #require(descriptorSoftLimit(pid))
            try limitDescriptors(of: proxy, to: limitLeavingOneFree(pid), softOnly: true)
            let client = try RawTCPClient(port: proxy.port)
            try client.send("GET /echo?tag=\(freshTag()) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            let (bytes, ended) = client.readToEnd()
            client.close()
            let answer = String(decoding: bytes, as: UTF8.self)
            #expect(answer.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"), "\(answer)")
            #expect(answer.contains("\r\nRetry-After: 1\r\n") && !answer.contains("upstream 127.0.0.1"), "\(answer)")
            #expect(ended)
            let report = try await proxy.connection(clientPort: client.localPort)
            expectDiagnosis(report, id: "proxy-out-of-descriptors", category: "proxy-limit")
            #expect(report["diagnosis"]?["evidence"]?["proxy.sent_to_client"]?.string == "HTTP 503 Service Unavailable")
            let line = try await notice(proxy, startingWith: "wsdoctor: out of descriptors (EMFILE: this process's limit, ulimit -n): could not connect")
            #expect(line.contains("client 127.0.0.1:\(client.localPort)") && line.contains("answered 503"), "\(line)")
            // Descriptors given back, the proxy serves again.
            try limitDescriptors(of: proxy, to: soft, softOnly: true)
            let session = try await peers.run("session", ["port": proxy.port, "path": "/echo?tag=\(freshTag())", "messages": ["hello"]])
            #expect(session["close_code"]?.int == 1000, "\(session)")
            let (_, metrics) = try scrape(base + "/metrics")
            // At least the connect; accepting hits the limit too (accept4 takes a descriptor
            // before it looks for a waiting client).
            #expect((sample(metrics, #"wsdoctor_limit_hits_total{limit="descriptors"}"#) ?? 0) >= 1, "\(metrics)")
            #expect(sample(metrics, #"wsdoctor_handshake_failures_total{status="502"}"#) == nil, "no 502 blames the upstream: \(metrics)")
            try await expectCleanStop(proxy, counts: ["proxy-limit": 1, "normal": 1])
        }
    }

    @Test("out of descriptors: accepting pauses, is counted and logged, and resumes once descriptors are free")
    func outOfDescriptors() async throws {
        let peers = try PeerHost.shared
        try await withProxy(upstream: peers.mainPort, extraArguments: ["--admin", "127.0.0.1:0"]) { proxy in
            let base = try await adminBase(proxy)
            let pid = proxy.process.processIdentifier
            let baseline = openDescriptors(pid)
            try limitDescriptors(of: proxy, to: baseline + 10)
            // Each held client takes two of the proxy's descriptors (its own and its upstream's).
            var held: [RawTCPClient] = []
            for _ in 0..<12 {
                let client = try RawTCPClient(port: proxy.port)
                try client.send("GET /echo HTTP/1.1\r\nHo")
                held.append(client)
            }
            let line = try await notice(proxy, startingWith: "wsdoctor: out of descriptors (EMFILE: this process's limit, ulimit -n): new clients")
            #expect(line.contains("accepting again"))
            for client in held { client.close() }
            // Accepting was never stopped for good: a normal session goes through.
            // (Closed clients free their descriptors as the proxy sees them close: give it a moment.)
            _ = try await poll("the proxy's descriptors to be free again") { openDescriptors(pid) <= baseline ? true : nil }
            let session = try await peers.run("session", ["port": proxy.port, "path": "/echo?tag=\(freshTag())", "messages": ["hello"]])
            #expect(session["close_code"]?.int == 1000, "\(session)")
            let (_, metrics) = try scrape(base + "/metrics")
            #expect((sample(metrics, #"wsdoctor_limit_hits_total{limit="descriptors"}"#) ?? 0) >= 1, "\(metrics)")
        }
    }
}
