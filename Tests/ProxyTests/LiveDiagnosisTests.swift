import Foundation
import Testing

/// Each close a real peer causes through the proxy gets the diagnosis `wsdoctor replay` would
/// give it; the peers' own view of the close is checked too.
extension ProxyTests {
    @Test("normal close 1000 by a websockets client")
    func normalClose() async throws {
        let peers = try PeerHost.shared
        let tag = freshTag()
        try await withProxy(upstream: peers.mainPort) { proxy in
            let client = try await peers.run("session", ["port": proxy.port, "path": "/echo?tag=\(tag)", "messages": ["hello", "bye now"]])
            #expect(client["close_code"]?.int == 1000)
            let server = try await peers.run("server_log", ["tag": tag])
            #expect(server["log"]?["close_rcvd"]?.int == 1000, "the server got the client's close 1000: \(server)")

            let connection = try await proxy.connection(clientPort: try #require(client["local_port"]?.int))
            expectDiagnosis(connection, id: "normal-close", category: "normal")
            #expect(connection["close"]?["initiator"]?.string == "client")
            #expect(connection["close"]?["code"]?.int == 1000)
            #expect(connection["close"]?["echo_code"]?.int == 1000)
            #expect(connection["close"]?["handshake_complete"]?.bool == true)
            #expect(connection["handshake"]?["status"]?.int == 101)
            #expect(connection["handshake"]?["path"]?.string == "/echo?tag=\(tag)")
            #expect(connection["server"]?.string == "127.0.0.1:\(proxy.upstreamPort)")
            #expect(connection["traffic"]?["client"]?["messages"]?.int == 2)
            #expect(connection["traffic"]?["server"]?["messages"]?.int == 2)
            #expect(connection["violations"]?.array?.isEmpty == true)
            try await expectCleanStop(proxy, counts: ["normal": 1])
        }
    }

    @Test("server shutting down closes 1001", arguments: [(1001, "going-away", "going-away"), (1012, "restart-1012", "restart")])
    func serverShutdown(code: Int, id: String, category: String) async throws {
        let peers = try PeerHost.shared
        // A server of its own: shutting it down closes every connection it has.
        let server = try await peers.run("new_server")
        try await withProxy(upstream: try #require(server["port"]?.int)) { proxy in
            let client = try await peers.run("shutdown_close", ["server": server["server"]?.int ?? 0, "port": proxy.port,
                                                                "code": code, "reason": "server shutting down"])
            #expect(client["close_code"]?.int == code, "the client saw the server's close: \(client)")
            let connection = try await proxy.connection(clientPort: try #require(client["local_port"]?.int))
            expectDiagnosis(connection, id: id, category: category)
            #expect(connection["close"]?["initiator"]?.string == "server")
            #expect(connection["close"]?["code"]?.int == code)
            #expect(connection["close"]?["reason"]?.string == "server shutting down")
            try await expectCleanStop(proxy, counts: [category: 1])
        }
    }

    @Test("raw client sends an unmasked frame: the websockets server closes 1002")
    func unmaskedClientFrame() async throws {
        let peers = try PeerHost.shared
        let tag = freshTag()
        try await withProxy(upstream: peers.mainPort) { proxy in
            let client = try await peers.run("raw_violation", ["port": proxy.port, "violation": "unmasked", "tag": tag])
            #expect(client["close_code"]?.int == 1002)
            let connection = try await proxy.connection(clientPort: try #require(client["local_port"]?.int))
            expectDiagnosis(connection, id: "protocol-violation-seen", category: "protocol-violation")
            #expect(connection["close"]?["initiator"]?.string == "server")
            #expect(connection["close"]?["code"]?.int == 1002)
            let violation = connection["violations"]?[0]
            #expect(violation?["kind"]?.string == "client-frame-unmasked", "\(connection)")
            #expect(violation?["side"]?.string == "client")
            #expect(violation?["frame"]?.int == 1, "the second client frame")
            #expect(connection["violations"]?.array?.count == 1)
            try await expectCleanStop(proxy, counts: ["protocol-violation": 1])
        }
    }

    @Test("raw client sends a text message that is not UTF-8: 1007")
    func invalidUTF8() async throws {
        let peers = try PeerHost.shared
        try await withProxy(upstream: peers.mainPort) { proxy in
            let client = try await peers.run("raw_violation", ["port": proxy.port, "violation": "utf8", "tag": freshTag()])
            #expect(client["close_code"]?.int == 1007)
            let connection = try await proxy.connection(clientPort: try #require(client["local_port"]?.int))
            expectDiagnosis(connection, id: "text-not-utf8", category: "non-utf8-text")
            #expect(connection["close"]?["code"]?.int == 1007)
            #expect(connection["violations"]?[0]?["kind"]?.string == "text-not-utf8")
            #expect(connection["violations"]?[0]?["side"]?.string == "client")
            try await expectCleanStop(proxy, counts: ["non-utf8-text": 1])
        }
    }

    /// The server closes right after the message that triggers it.
    @Test("server closes after one message", arguments: [
        ("/policy", "forbidden word", 1008, "content-policy", "policy"),
        ("/crash", "crash", 1011, "internal-error-1011", "internal-error"),
        ("/overload", "subscribe", 1013, "overload-1013", "overload"),
    ])
    func serverClosesAfterMessage(path: String, trigger: String, code: Int, id: String, category: String) async throws {
        let peers = try PeerHost.shared
        let tag = freshTag()
        try await withProxy(upstream: peers.mainPort) { proxy in
            let client = try await peers.run("session", ["port": proxy.port, "path": "\(path)?tag=\(tag)",
                                                         "messages": ["hello", trigger], "close": false])
            #expect(client["close_code"]?.int == code, "the client saw the server's close: \(client)")
            let server = try await peers.run("server_log", ["tag": tag])
            #expect(server["log"]?["received"]?.int == 2, "\(server)")
            let connection = try await proxy.connection(clientPort: try #require(client["local_port"]?.int))
            expectDiagnosis(connection, id: id, category: category)
            #expect(connection["close"]?["initiator"]?.string == "server")
            #expect(connection["close"]?["code"]?.int == code)
            #expect(connection["close"]?["echo_code"]?.int == code)
            #expect(connection["traffic"]?["client"]?["messages"]?.int == 2)
            #expect(connection["traffic"]?["server"]?["messages"]?.int == 1)
            try await expectCleanStop(proxy, counts: [category: 1])
        }
    }

    @Test("message over the server's max_size: 1009")
    func tooBig() async throws {
        let peers = try PeerHost.shared
        try await withProxy(upstream: peers.smallPort) { proxy in
            let big = String(repeating: "x", count: 4096)
            let client = try await peers.run("session", ["port": proxy.port, "path": "/?tag=\(freshTag())",
                                                         "messages": ["small message", big], "close": false])
            #expect(client["close_code"]?.int == 1009)
            let connection = try await proxy.connection(clientPort: try #require(client["local_port"]?.int))
            expectDiagnosis(connection, id: "too-big-1009", category: "too-big")
            #expect(connection["close"]?["code"]?.int == 1009)
            #expect(connection["traffic"]?["client"]?["message_bytes"]?.int == 13 + 4096)
            try await expectCleanStop(proxy, counts: ["too-big": 1])
        }
    }

    @Test("upgrade refused with 429 and Retry-After")
    func handshakeOverload() async throws {
        let peers = try PeerHost.shared
        try await withProxy(upstream: peers.mainPort) { proxy in
            let client = try await peers.run("rejected", ["port": proxy.port])
            #expect(client["status"]?.int == 429)
            #expect(client["retry_after"]?.string == "30")
            let connection = try #require(try await proxy.waitForConnections(1).first)
            expectDiagnosis(connection, id: "handshake-overload", category: "overload")
            #expect(connection["handshake"]?["status"]?.int == 429)
            #expect(connection["handshake"]?["retry_after"]?.string == "30", "\(connection)")
            try await expectCleanStop(proxy, counts: ["overload": 1])
        }
    }

    @Test("client aborts with RST (SO_LINGER 0)")
    func clientReset() async throws {
        let peers = try PeerHost.shared
        let tag = freshTag()
        try await withProxy(upstream: peers.mainPort) { proxy in
            let client = try await peers.run("reset", ["port": proxy.port, "tag": tag])
            // The proxy passes the reset on: the server's connection ends without a close frame.
            let server = try await peers.run("server_log", ["tag": tag])
            #expect(server["log"]?["close_rcvd"] == .null, "\(server)")
            #expect(server["log"]?["close_code"]?.int == 1006, "\(server)")
            let connection = try await proxy.connection(clientPort: try #require(client["local_port"]?.int))
            expectDiagnosis(connection, id: "reset-without-close", category: "abnormal")
            #expect(connection["close"]?["initiator"]?.string == "none")
            #expect(connection["close"]?["transport"]?.string == "rst")
            #expect(connection["close"]?["transport_first_by"]?.string == "client")
            try await expectCleanStop(proxy, counts: ["abnormal": 1])
        }
    }

    @Test("upstream not listening: the client gets 502")
    func upstreamUnreachable() async throws {
        let peers = try PeerHost.shared
        // Bound but not listening, and held by the peers until released: connecting is refused.
        // (If the test fails before releasing it, it is closed when the peers exit.)
        let closed = try #require(try await peers.run("closed_port")["port"]?.int)
        try await withProxy(upstream: closed) { proxy in
            let request = "GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: d3Nkb2N0b3ItcHJveHktdA==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            let client = try await peers.run("raw_exchange", ["port": proxy.port, "data_b64": Data(request.utf8).base64EncodedString()])
            let answer = String(decoding: Data(base64Encoded: client["received_b64"]?.string ?? "") ?? Data(), as: UTF8.self)
            #expect(answer.hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"), "\(answer)")
            let body = answer.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
            #expect(body.hasSuffix("\n") && body.dropLast().split(separator: "\n").count == 1, "one-line body: \(body)")
            #expect(body.contains("127.0.0.1:\(closed)"), "\(body)")
            // The 502 is followed by an orderly close, not a reset that could destroy it.
            #expect(client["ending"]?.string == "eof", "\(client)")
            let connection = try await proxy.connection(clientPort: try #require(client["local_port"]?.int))
            expectDiagnosis(connection, id: "upstream-unreachable", category: "upstream-unreachable")
            #expect(connection["server"]?.string == "127.0.0.1:\(closed)")
            try await expectCleanStop(proxy, counts: ["upstream-unreachable": 1])
        }
        try await peers.run("release_port", ["port": closed])
    }

    @Test("SIGINT with a client connected and idle: still-open, then the categories", arguments: [SIGINT])
    func stopWithOpenConnection(signal: Int32) async throws {
        let peers = try PeerHost.shared
        let tag = freshTag()
        try await withProxy(upstream: peers.mainPort) { proxy in
            let held = try await peers.run("hold_open", ["port": proxy.port, "tag": tag])
            let clientPort = try #require(held["local_port"]?.int)
            #expect(proxy.connections.isEmpty, "nothing reported while the connection is open")
            let connections = try await expectCleanStop(proxy, counts: ["still-open": 1], signal: signal)
            #expect(connections.count == 1)
            let connection = try #require(connections.first)
            #expect(connection["client"]?.string == "127.0.0.1:\(clientPort)")
            expectDiagnosis(connection, id: "still-open", category: "still-open")
            #expect(connection["close"]?["initiator"]?.string == "none")
            #expect(connection["close"]?["transport"]?.string == "capture-end")
            #expect(connection["traffic"]?["client"]?["messages"]?.int == 1)
            // The proxy went away: both peers lose the connection without a close frame.
            let client = try await peers.run("hold_wait_closed", ["hold": held["hold"]?.int ?? 0])
            #expect(client["close_rcvd"] == .null, "\(client)")
            let server = try await peers.run("server_log", ["tag": tag])
            #expect(server["log"]?["close_rcvd"] == .null, "\(server)")
        }
    }

    @Test("SIGTERM drains, then closes what is left as a restart: 1012 to the client, 1001 to the server")
    func sigtermDrainsThenClosesAsRestart() async throws {
        let peers = try PeerHost.shared
        let tag = freshTag()
        try await withProxy(upstream: peers.mainPort, extraArguments: ["--drain-timeout", "0.5"]) { proxy in
            let held = try await peers.run("hold_open", ["port": proxy.port, "tag": tag])
            let connections = try await expectCleanStop(proxy, counts: ["restart": 1], signal: SIGTERM)
            let connection = try #require(connections.first)
            expectDiagnosis(connection, id: "proxy-shutdown", category: "restart")
            #expect(connection["diagnosis"]?["evidence"]?["proxy.closed_connection"] == .bool(true))
            // wsdoctor's own close frames, never reported as the peers' closes.
            #expect(connection["close"]?["initiator"]?.string == "none")
            let client = try await peers.run("hold_wait_closed", ["hold": held["hold"]?.int ?? 0])
            #expect(client["close_rcvd"]?.int == 1012, "\(client)")
            let server = try await peers.run("server_log", ["tag": tag])
            #expect(server["log"]?["close_rcvd"]?.int == 1001, "\(server)")
        }
    }
}
