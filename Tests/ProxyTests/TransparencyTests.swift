import Foundation
import Testing

/// The proxy forwards every byte unchanged in both directions, valid WebSocket or not.
extension ProxyTests {
    /// A raw client sends a scripted byte sequence in several writes (cut mid-header and
    /// mid-frame, small delays between), a raw server records every byte it receives into a
    /// file and sends its own script back in several writes: each side must get exactly what
    /// the other sent.
    @Test("bytes pass unchanged both ways", arguments: ["clean", "invalid"])
    func bytesPassUnchanged(script: String) async throws {
        let peers = try PeerHost.shared
        let server = try await peers.run("raw_server", ["script_name": script, "mode": "interactive"])
        let upstreamPort = try #require(server["port"]?.int)
        try await withProxy(upstream: upstreamPort) { proxy in
            let client = try await peers.run("scripted_client", ["port": proxy.port, "script_name": script,
                                                                 "upstream_port": upstreamPort, "mode": "interactive"])
            let recorded = try await peers.run("raw_server_result", ["server": server["server"]?.int ?? 0])
            // client → server
            #expect(recorded["received_len"]?.int == client["sent_len"]?.int)
            #expect(recorded["received_sha"]?.string == client["sent_sha"]?.string, "the server received other bytes than the client sent")
            // server → client
            #expect(client["received_len"]?.int == recorded["sent_len"]?.int)
            #expect(client["received_sha"]?.string == recorded["sent_sha"]?.string, "the client received other bytes than the server sent")
            #expect(client["received_sha"]?.string == client["expected_sha"]?.string)

            let connection = try await proxy.connection(clientPort: try #require(client["local_port"]?.int))
            let violations = (connection["violations"]?.array ?? []).map { "\($0["side"]?.string ?? "?") \($0["kind"]?.string ?? "?")" }
            #expect(connection["handshake"]?["status"]?.int == 101)
            #expect(connection["traffic"]?["client"]?["bytes"]?.int != nil)
            if script == "clean" {
                expectDiagnosis(connection, id: "normal-close", category: "normal")
                #expect(violations.isEmpty, "\(violations)")
                #expect(connection["traffic"]?["client"]?["messages"]?.int == 3)
                #expect(connection["traffic"]?["server"]?["messages"]?.int == 3)
                #expect(connection["traffic"]?["client"]?["pings"]?.int == 1)
                #expect(connection["traffic"]?["server"]?["pongs"]?.int == 1)
            } else {
                // Every broken rule of the script is seen, on the side that broke it.
                let expected: Set = [
                    "client client-frame-unmasked", "client reserved-opcode", "client text-not-utf8",
                    "client control-frame-too-long", "client reserved-bits-set",
                    "server server-frame-masked", "server reserved-opcode", "server rsv1-without-extension",
                ]
                #expect(Set(violations).isSuperset(of: expected), "violations: \(violations)")
                #expect(connection["close"]?["code"]?.int == 1002)
            }
            try await expectCleanStop(proxy, counts: [connection["diagnosis"]?["category"]?.string ?? "?": 1])
        }
    }

    @Test("the websockets server closes with the same code behind the proxy as without it (invalid UTF-8)")
    func sameCloseCodeWithAndWithoutProxy() async throws {
        let peers = try PeerHost.shared
        let direct = try await peers.run("raw_violation", ["port": peers.mainPort, "violation": "utf8", "tag": freshTag()])
        try await withProxy(upstream: peers.mainPort) { proxy in
            let proxied = try await peers.run("raw_violation", ["port": proxy.port, "violation": "utf8", "tag": freshTag()])
            #expect(direct["close_code"]?.int == 1007)
            #expect(proxied["close_code"]?.int == direct["close_code"]?.int)
            let connection = try await proxy.connection(clientPort: try #require(proxied["local_port"]?.int))
            #expect(connection["close"]?["code"]?.int == direct["close_code"]?.int)
        }
    }
}
