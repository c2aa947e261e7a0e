import Foundation
import Testing

/// The rest of the close categories, each caused live by real peers through the proxy:
/// an intermediary behind wsdoctor that corrupts frames or stalls (peers.py's Relay, between
/// wsdoctor and the websockets server), keepalive clients of two libraries, a server process
/// killed with SIGKILL, refused upgrades (websockets 403, aiohttp 404), and the server-side
/// policies of record.py's diagnosis scenarios (binary refused, private close code, rate limit,
/// expiring JWT), plus an empty close frame from a raw client.
extension ProxyTests {
    @Test("a relay behind the proxy clears the MASK bit: the server's 1002 gets both explanations, no accusation")
    func corruptingRelayBehindTheProxy() async throws {
        let peers = try PeerHost.shared
        let tag = freshTag()
        // client → wsdoctor → relay (clears the MASK bit of the client's 2nd data frame) → server
        let relay = try await peers.run("relay_start", ["upstream_port": peers.mainPort, "mode": "flip-mask"])
        let relayPort = try #require(relay["port"]?.int)
        try await withProxy(upstream: relayPort) { proxy in
            let client = try await peers.run("session", ["port": proxy.port, "path": "/echo?tag=\(tag)",
                                                         "messages": ["hello", "second message"], "close": false])
            #expect(client["close_code"]?.int == 1002, "the client saw the server's close: \(client)")
            let server = try await peers.run("server_log", ["tag": tag])
            // The server failed the connection on the corrupted frame: it got the valid first
            // message only, and (having failed it) never took the client's answer to its close.
            #expect(server["log"]?["received"]?.int == 1, "\(server)")
            #expect(server["log"]?["handler"]?.string == "connection-closed", "\(server)")
            let relayed = try await peers.run("relay_result", ["relay": relay["relay"]?.int ?? 0])
            #expect(relayed["notes"]?[0]?.string?.contains("MASK bit cleared") == true, "\(relayed)")

            let connection = try await proxy.connection(clientPort: try #require(client["local_port"]?.int))
            expectDiagnosis(connection, id: "protocol-error-frames-valid-here", category: "protocol-error-unexplained")
            #expect(connection["server"]?.string == "127.0.0.1:\(relayPort)")
            #expect(connection["close"]?["initiator"]?.string == "server")
            #expect(connection["close"]?["code"]?.int == 1002)
            #expect(connection["incomplete"]?.bool == false)
            #expect(connection["violations"]?.array?.isEmpty == true, "every frame wsdoctor saw was valid: \(connection)")
            #expect(connection["traffic"]?["client"]?["messages"]?.int == 2)
            try await expectCleanStop(proxy, counts: ["protocol-error-unexplained": 1])
        }
    }

    /// A relay behind wsdoctor passes the server's first echoes, then drops everything from the
    /// server (pongs, close, FIN): the client's keepalive pings go unanswered.
    /// websockets fails the connection with a close 1011 "keepalive ping timeout" first
    /// (keepalive-timeout-1011); aiohttp drops TCP without a close frame (keepalive-timeout).
    @Test("keepalive pings unanswered behind the proxy", arguments: [
        ("websockets", 2, "keepalive-timeout-1011"),
        ("aiohttp", 1, "keepalive-timeout"),
    ])
    func keepaliveTimeout(library: String, echoes: Int, id: String) async throws {
        let peers = try PeerHost.shared
        let relay = try await peers.run("relay_start", ["upstream_port": peers.mainPort, "mode": "stall-s2c", "frames": echoes])
        let relayPort = try #require(relay["port"]?.int)
        try await withProxy(upstream: relayPort) { proxy in
            let client = try await peers.run("keepalive_client", ["port": proxy.port, "tag": freshTag(), "library": library])
            let relayed = try await peers.run("relay_result", ["relay": relay["relay"]?.int ?? 0])
            #expect(relayed["notes"]?.array?.contains { $0.string?.contains("dropped s2c opcode 0xa") == true } == true,
                    "the relay dropped the server's pong: \(relayed)")
            let connection = try await proxy.connection(clientPort: try #require(client["local_port"]?.int))
            expectDiagnosis(connection, id: id, category: "keepalive-timeout")
            // The last ping went unanswered (an earlier one may have been answered when the
            // echoes were slow to come back).
            let pings = try #require(connection["traffic"]?["client"]?["pings"]?.int, "\(connection)")
            #expect(pings >= 1, "\(connection)")
            #expect(connection["traffic"]?["client"]?["pings_answered"]?.int == pings - 1, "\(connection)")
            #expect(connection["diagnosis"]?["evidence"]?["pings.unanswered"]?.int == 1, "\(connection)")
            #expect(connection["traffic"]?["server"]?["messages"]?.int == echoes)
            if library == "websockets" {
                #expect(client["close_sent"]?.int == 1011, "\(client)")
                #expect(client["close_rcvd"] == .null)
                #expect(connection["close"]?["initiator"]?.string == "client")
                #expect(connection["close"]?["code"]?.int == 1011)
                #expect(connection["close"]?["reason"]?.string == "keepalive ping timeout")
                #expect(connection["close"]?["echo_code"] == .null, "the server's answer was dropped")
            } else {
                #expect(client["message"]?.string == "ERROR", "\(client)")
                #expect(client["exception"]?.string?.contains("ServerTimeoutError") == true, "\(client)")
                #expect(connection["close"]?["initiator"]?.string == "none")
                #expect(connection["close"]?["transport_first_by"]?.string == "client")
            }
            try await expectCleanStop(proxy, counts: ["keepalive-timeout": 1])
        }
    }

    @Test("the server process is killed with SIGKILL: FIN without a close frame")
    func serverKilled() async throws {
        let peers = try PeerHost.shared
        let server = try await EchoServerProcess.start()
        defer { server.cleanUp() }
        let tag = freshTag()
        try await withProxy(upstream: server.port) { proxy in
            let held = try await peers.run("hold_open", ["port": proxy.port, "tag": tag])
            try await Task.sleep(for: .milliseconds(200))
            let status = try await server.crash()
            #expect(status == SIGKILL)
            let client = try await peers.run("hold_wait_closed", ["hold": held["hold"]?.int ?? 0])
            #expect(client["close_code"]?.int == 1006, "\(client)")
            #expect(client["close_rcvd"] == .null)
            let connection = try await proxy.connection(clientPort: try #require(held["local_port"]?.int))
            expectDiagnosis(connection, id: "fin-without-close", category: "abnormal")
            #expect(connection["close"]?["initiator"]?.string == "none")
            #expect(connection["close"]?["transport"]?.string == "fin")
            #expect(connection["close"]?["transport_first_by"]?.string == "server")
            #expect(connection["traffic"]?["server"]?["messages"]?.int == 1)
            try await expectCleanStop(proxy, counts: ["abnormal": 1])
        }
    }

    @Test("upgrade refused: 403 by websockets, 404 by aiohttp", arguments: [
        ("websockets", "/reject-403", 403, "handshake-unauthorized"),
        ("aiohttp", "/socket", 404, "handshake-not-found"),
    ])
    func handshakeRefused(serverKind: String, path: String, status: Int, id: String) async throws {
        let peers = try PeerHost.shared
        let upstream = serverKind == "aiohttp" ? try #require(try await peers.run("aiohttp_server")["port"]?.int) : peers.mainPort
        try await withProxy(upstream: upstream) { proxy in
            let client = try await peers.run("rejected", ["port": proxy.port, "path": path])
            #expect(client["status"]?.int == status, "\(client)")
            let connection = try #require(try await proxy.waitForConnections(1).first)
            expectDiagnosis(connection, id: id, category: "handshake-failed")
            #expect(connection["handshake"]?["status"]?.int == status)
            #expect(connection["handshake"]?["path"]?.string == path)
            #expect(connection["close"]?["initiator"]?.string == "none")
            try await expectCleanStop(proxy, counts: ["handshake-failed": 1])
        }
    }

    /// The server's handler closes after a message of a kind (or at a moment) it does not accept.
    @Test("the server closes with its own reason", arguments: [
        ("/text-only", 1003, "binary not accepted", "unsupported-data-1003", "unsupported-data"),
        ("/room", 4000, "room closed", "application-close", "application"),
    ])
    func serverClosesWithReason(path: String, code: Int, reason: String, id: String, category: String) async throws {
        let peers = try PeerHost.shared
        let tag = freshTag()
        // /text-only: a text message (echoed), then a binary one; /room: one message, echoed, then the close.
        let messages: [any Sendable] = path == "/text-only"
            ? ["text is fine", ["binary_b64": Data([0xDE, 0xAD, 0xBE, 0xEF]).base64EncodedString()]]
            : ["hello"]
        try await withProxy(upstream: peers.mainPort) { proxy in
            let client = try await peers.run("session", ["port": proxy.port, "path": "\(path)?tag=\(tag)",
                                                         "messages": messages, "close": false])
            #expect(client["close_code"]?.int == code, "\(client)")
            #expect(client["close_reason"]?.string == reason)
            let connection = try await proxy.connection(clientPort: try #require(client["local_port"]?.int))
            expectDiagnosis(connection, id: id, category: category)
            #expect(connection["close"]?["initiator"]?.string == "server")
            #expect(connection["close"]?["code"]?.int == code)
            #expect(connection["close"]?["reason"]?.string == reason)
            #expect(connection["close"]?["echo_code"]?.int == code)
            if path == "/text-only" {
                #expect(connection["traffic"]?["client"]?["text"]?.int == 1)
                #expect(connection["traffic"]?["client"]?["binary"]?.int == 1)
                #expect(connection["diagnosis"]?["evidence"]?["peer.last_message.type"]?.string == "binary", "\(connection)")
            }
            try await expectCleanStop(proxy, counts: [category: 1])
        }
    }

    @Test("a burst of messages trips the server's rate limit: 1008")
    func rateLimit() async throws {
        let peers = try PeerHost.shared
        let tag = freshTag()
        try await withProxy(upstream: peers.mainPort) { proxy in
            let client = try await peers.run("rate_burst", ["port": proxy.port, "tag": tag])
            #expect(client["close_code"]?.int == 1008, "\(client)")
            #expect(client["close_reason"]?.string == "rate limit exceeded")
            let connection = try await proxy.connection(clientPort: try #require(client["local_port"]?.int))
            expectDiagnosis(connection, id: "rate-limit", category: "policy")
            #expect(connection["close"]?["initiator"]?.string == "server")
            #expect(connection["close"]?["code"]?.int == 1008)
            let evidence = connection["diagnosis"]?["evidence"]
            #expect((evidence?["peer.rate_before_close"]?.double ?? 0) >= 15, "\(connection)")
            #expect((evidence?["peer.rate_ratio"]?.double ?? 0) >= 3, "\(connection)")
            try await expectCleanStop(proxy, counts: ["policy": 1])
        }
    }

    @Test("the JWT in the Authorization header expires: 1008 at its exp")
    func tokenExpired() async throws {
        let peers = try PeerHost.shared
        let tag = freshTag()
        try await withProxy(upstream: peers.mainPort) { proxy in
            // 3 s: the token expires 2 to 3 s after it is made, so a slow, loaded machine still
            // gets through the upgrade before it does.
            let client = try await peers.run("jwt_session", ["port": proxy.port, "tag": tag, "lifetime": 3])
            #expect(client["close_code"]?.int == 1008, "\(client)")
            #expect(client["close_reason"]?.string == "token expired")
            let connection = try await proxy.connection(clientPort: try #require(client["local_port"]?.int))
            expectDiagnosis(connection, id: "token-expired", category: "policy")
            #expect(connection["close"]?["initiator"]?.string == "server")
            let evidence = connection["diagnosis"]?["evidence"]
            #expect(evidence?["jwt.source"]?.string == "authorization", "\(connection)")
            #expect(abs(evidence?["jwt.end_after_expiry"]?.double ?? 99) < 1.5, "the close came as the token expired (the rule allows 2 s; a loaded machine is late): \(connection)")
            try await expectCleanStop(proxy, counts: ["policy": 1])
        }
    }

    @Test("a raw client sends an empty close frame: the server answers with one too")
    func emptyClose() async throws {
        let peers = try PeerHost.shared
        let tag = freshTag()
        try await withProxy(upstream: peers.mainPort) { proxy in
            let client = try await peers.run("raw_empty_close", ["port": proxy.port, "tag": tag])
            #expect(client["answer_opcode"]?.int == 8, "\(client)")
            #expect(client["answer_payload_len"]?.int == 0, "the websockets server answers with an empty close: \(client)")
            let server = try await peers.run("server_log", ["tag": tag])
            #expect(server["log"]?["close_code"]?.int == 1005, "\(server)")
            let connection = try await proxy.connection(clientPort: try #require(client["local_port"]?.int))
            expectDiagnosis(connection, id: "normal-close-without-code", category: "normal")
            #expect(connection["close"]?["initiator"]?.string == "client")
            #expect(connection["close"]?["handshake_complete"]?.bool == true)
            try await expectCleanStop(proxy, counts: ["normal": 1])
        }
    }
}

extension JSONValue {
    /// A number field as a Double.
    var double: Double? {
        if case .number(let value) = self { return value }
        return nil
    }
}
