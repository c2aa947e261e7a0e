import Foundation
import Testing

/// A FIN from one side half-closes the other leg (the answer still flows back), and large
/// messages pass whole (the proxy's backpressure loses nothing).
extension ProxyTests {
    @Test("a client that sends FIN still gets the server's whole answer")
    func halfClose() async throws {
        let peers = try PeerHost.shared
        // The raw server reads until the client's FIN, only then answers (about 1 MB), then closes.
        let server = try await peers.run("raw_server", ["script_name": "large", "mode": "after-eof"])
        let upstreamPort = try #require(server["port"]?.int)
        try await withProxy(upstream: upstreamPort) { proxy in
            let client = try await peers.run("scripted_client", ["port": proxy.port, "script_name": "large",
                                                                 "upstream_port": upstreamPort, "mode": "fin-first"])
            let recorded = try await peers.run("raw_server_result", ["server": server["server"]?.int ?? 0])
            #expect(recorded["received_sha"]?.string == client["sent_sha"]?.string)
            #expect(client["received_len"]?.int == client["expected_len"]?.int, "the client got the whole answer after its FIN")
            #expect(client["received_sha"]?.string == client["expected_sha"]?.string)
            #expect((client["received_len"]?.int ?? 0) > 1_000_000)

            let connection = try await proxy.connection(clientPort: try #require(client["local_port"]?.int))
            expectDiagnosis(connection, id: "normal-close", category: "normal")
            #expect(connection["close"]?["transport"]?.string == "fin")
            #expect(connection["close"]?["transport_first_by"]?.string == "client")
            #expect(connection["traffic"]?["server"]?["messages"]?.int == 16)
            try await expectCleanStop(proxy, counts: ["normal": 1])
        }
    }

    @Test("a 5 MB message is echoed through the proxy intact")
    func largeMessage() async throws {
        let peers = try PeerHost.shared
        let size = 5_000_000
        try await withProxy(upstream: peers.mainPort) { proxy in
            let client = try await peers.run("big_echo", ["port": proxy.port, "size": size, "tag": freshTag()], timeout: 60)
            #expect(client["received_len"]?.int == size)
            #expect(client["received_sha"]?.string == client["sent_sha"]?.string)
            #expect(client["close_code"]?.int == 1000)
            let connection = try await proxy.connection(clientPort: try #require(client["local_port"]?.int))
            expectDiagnosis(connection, id: "normal-close", category: "normal")
            #expect(connection["traffic"]?["client"]?["message_bytes"]?.int == size)
            #expect(connection["traffic"]?["server"]?["message_bytes"]?.int == size)
            try await expectCleanStop(proxy, counts: ["normal": 1])
        }
    }

    @Test("text mode: an open line, then the replay block")
    func textOutput() async throws {
        let peers = try PeerHost.shared
        let tag = freshTag()
        try await withProxy(upstream: peers.mainPort, format: "text") { proxy in
            let client = try await peers.run("session", ["port": proxy.port, "path": "/echo?tag=\(tag)", "messages": ["hello", "bye"]])
            let clientPort = try #require(client["local_port"]?.int)
            let text = try await poll("the text report; printed so far:\n\(proxy.stdout.text)") { () -> String? in
                let text = proxy.stdout.text
                return text.contains("    diagnosis  normal:") ? text : nil
            }
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.first?.hasPrefix("wsdoctor proxy listening on 127.0.0.1:\(proxy.port), forwarding to ws://127.0.0.1:\(peers.mainPort)") == true)
            #expect(lines.contains { $0.hasPrefix("open   #1 127.0.0.1:\(clientPort) GET /echo?tag=\(tag) → 101") }, "\(text)")
            #expect(lines.contains { $0.hasPrefix("#1  127.0.0.1:\(clientPort) → 127.0.0.1:\(peers.mainPort)") }, "\(text)")
            #expect(lines.contains { $0.hasPrefix("    close      client sent 1000") }, "\(text)")
            let (status, _) = try await proxy.stop()
            #expect(status == 0)
            #expect(proxy.stdout.text.hasSuffix("by diagnosis: normal 1\n"), "\(proxy.stdout.text)")
        }
    }
}
