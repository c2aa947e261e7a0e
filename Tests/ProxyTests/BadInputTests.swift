import Foundation
import Testing

/// Broken clients and a broken upstream: each bad connection is reported once, and the same
/// proxy keeps serving normal websockets sessions after each.
extension ProxyTests {
    @Test("bad input on one connection: reported, and the proxy keeps serving")
    func keepsServingAfterBadInput() async throws {
        let peers = try PeerHost.shared
        try await withProxy(upstream: peers.mainPort) { proxy in
            var reportedPorts: [Int] = []

            /// A normal session through the proxy: echoed, closed 1000, reported normal-close.
            func normalSessionWorks(after what: String) async throws {
                let path = "/echo?tag=\(freshTag())"
                let client = try await peers.run("session", ["port": proxy.port, "path": path, "messages": ["hello after \(what)", "bye"]])
                #expect(client["close_code"]?.int == 1000, "session after \(what): \(client)")
                let port = try #require(client["local_port"]?.int)
                let connection = try await proxy.connection(clientPort: port, path: path)
                expectDiagnosis(connection, id: "normal-close", category: "normal")
                reportedPorts.append(port)
            }

            /// A raw client: sends `bytes`, then reads until EOF ("read") or closes after 50 ms ("close").
            /// (It never sends FIN right after its bytes: see the report about early FINs.)
            func raw(_ bytes: [UInt8], mode: String = "read") async throws -> (port: Int, answer: String, ending: String) {
                let result = try await peers.run("raw_exchange", ["port": proxy.port, "data_b64": Data(bytes).base64EncodedString(),
                                                                  "mode": mode, "pause": 0.05])
                let answer = String(decoding: Data(base64Encoded: result["received_b64"]?.string ?? "") ?? Data(), as: UTF8.self)
                return (try #require(result["local_port"]?.int), answer, result["ending"]?.string ?? "")
            }

            // 1. Garbage instead of HTTP (a TLS ClientHello-like start and binary junk).
            let garbage = try await raw([0x16, 0x03, 0x01, 0x02, 0x00] + Array("garbage, not HTTP\r\n\r\n".utf8) + [0xFF, 0x00, 0xFE])
            // websockets drops a connection whose request line is not HTTP, without an answer.
            #expect(garbage.answer.isEmpty && garbage.ending == "eof", "\(garbage)")
            var connection = try await proxy.connection(clientPort: garbage.port)
            #expect(connection["handshake"] == .null, "\(connection)")
            #expect(connection["notices"]?.array?.contains { $0["kind"]?.string == "undecodable" && $0["side"]?.string == "client" } == true,
                    "\(connection)")
            #expect(connection["close"]?["initiator"]?.string == "none")
            // wsdoctor could not read the client's bytes: it says so and blames no one.
            expectDiagnosis(connection, id: "analysis-incomplete", category: "not-analysed")
            reportedPorts.append(garbage.port)
            try await normalSessionWorks(after: "garbage")

            // 2. An HTTP head larger than 16 KiB: the server refuses it; the head is skipped, not read.
            let bigHead = "GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + String(repeating: "a", count: 20_000) + "\r\n\r\n"
            let big = try await raw(Array(bigHead.utf8))
            #expect(big.answer.hasPrefix("HTTP/1.1 431 "), "the websockets server refuses the head: \(big.answer.prefix(80))")
            #expect(big.ending == "eof")
            connection = try await proxy.connection(clientPort: big.port)
            #expect(connection["notices"]?.array?.contains { $0["kind"]?.string == "head-too-large" && $0["side"]?.string == "client" } == true,
                    "\(connection)")
            expectDiagnosis(connection, id: "handshake-refused", category: "handshake-failed")
            reportedPorts.append(big.port)
            try await normalSessionWorks(after: "a 20 KB head")

            // 3. The upstream sends half a frame, then resets the connection.
            let tag = freshTag()
            let halfFrame = try await peers.run("half_frame_reset_client", ["port": proxy.port, "tag": tag])
            #expect(halfFrame["outcome"]?.string == "ConnectionClosedError", "\(halfFrame)")
            #expect(halfFrame["close_rcvd"] == .null)
            let server = try await peers.run("server_log", ["tag": tag])
            #expect(server["log"]?["handler"]?.string == "reset-sent")
            let halfFramePort = try #require(halfFrame["local_port"]?.int)
            connection = try await proxy.connection(clientPort: halfFramePort)
            expectDiagnosis(connection, id: "reset-without-close", category: "abnormal")
            #expect(connection["handshake"]?["status"]?.int == 101)
            #expect(connection["close"]?["transport"]?.string == "rst")
            #expect(connection["close"]?["transport_first_by"]?.string == "server")
            reportedPorts.append(halfFramePort)
            try await normalSessionWorks(after: "an upstream reset mid-frame")

            // 4. A client that goes away in the middle of its upgrade request.
            let partial = try await raw(Array("GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgr".utf8), mode: "close")
            connection = try await proxy.connection(clientPort: partial.port)
            #expect(connection["close"]?["initiator"]?.string == "none")
            #expect(connection["close"]?["transport_first_by"]?.string == "client", "\(connection)")
            #expect(connection["handshake"]?["status"] == nil || connection["handshake"]?["status"] == .null, "\(connection)")
            reportedPorts.append(partial.port)
            try await normalSessionWorks(after: "a client leaving mid-handshake")

            // One object per connection, no more.
            let connections = try await expectCleanStop(proxy, counts: ["abnormal": 2, "handshake-failed": 1, "normal": 4, "not-analysed": 1])
            #expect(connections.count == 8)
            #expect(connections.compactMap { $0["client"]?.port }.sorted() == reportedPorts.sorted())
        }
    }
}
