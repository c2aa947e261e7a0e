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

    /// Lowers the running proxy's descriptor limit (as `ulimit -n` would have).
    func limitDescriptors(of proxy: ProxyProcess, to limit: Int) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/prlimit")
        process.arguments = ["--pid", "\(proxy.process.processIdentifier)", "--nofile=\(limit):\(limit)"]
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
            let session = try await peers.run("session", ["port": proxy.port, "path": "/echo?tag=\(freshTag())", "messages": ["hello"]])
            #expect(session["close_code"]?.int == 1000, "\(session)")
            let report = try await proxy.connection(clientPort: session["local_port"]?.int ?? 0)
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
