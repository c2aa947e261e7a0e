import Foundation
import Testing

/// The SwiftNIO peer written for the tests (Support/NIOEchoServer.swift) as the upstream:
/// a Python `websockets` client and a raw client talk to it through wsdoctor.
extension ProxyTests {
    @Test("websockets client → wsdoctor → SwiftNIO server: echoed text and binary, normal close")
    func nioServerNormalClose() async throws {
        let peers = try PeerHost.shared
        try await withNIOEchoServer { server in
            try await withProxy(upstream: server.port) { proxy in
                let binary = Data((0..<300).map { UInt8($0 % 256) })
                let messages: [any Sendable] = ["hello, NIO", ["binary_b64": binary.base64EncodedString()], "caf\u{e9} \u{2603}", "bye"]
                let client = try await peers.run("session", ["port": proxy.port, "path": "/nio?tag=\(freshTag())", "messages": messages])
                #expect(client["close_code"]?.int == 1000, "the NIO server answered the close: \(client)")

                let seen = try #require(try await server.waitForEnded(1).first)
                #expect(seen.textMessages == 3 && seen.binaryMessages == 1, "\(seen)")
                #expect(seen.closeReceived == 1000 && seen.closeSent == 1000, "\(seen)")

                let connection = try await proxy.connection(clientPort: try #require(client["local_port"]?.int))
                expectDiagnosis(connection, id: "normal-close", category: "normal")
                #expect(connection["server"]?.string == "127.0.0.1:\(server.port)")
                #expect(connection["handshake"]?["status"]?.int == 101)
                #expect(connection["close"]?["initiator"]?.string == "client")
                #expect(connection["close"]?["code"]?.int == 1000)
                #expect(connection["close"]?["echo_code"]?.int == 1000)
                #expect(connection["close"]?["handshake_complete"]?.bool == true)
                #expect(connection["close"]?["transport_first_by"]?.string == "server", "the server ends TCP first")
                for side in ["client", "server"] {
                    #expect(connection["traffic"]?[side]?["messages"]?.int == 4, "\(side): \(connection)")
                    #expect(connection["traffic"]?[side]?["text"]?.int == 3)
                    #expect(connection["traffic"]?[side]?["binary"]?.int == 1)
                }
                #expect(connection["violations"]?.array?.isEmpty == true)
                try await expectCleanStop(proxy, counts: ["normal": 1])
            }
        }
    }

    @Test("raw client → wsdoctor → SwiftNIO server: text that is not UTF-8 gets 1007")
    func nioServerInvalidUTF8() async throws {
        let peers = try PeerHost.shared
        try await withNIOEchoServer { server in
            try await withProxy(upstream: server.port) { proxy in
                let client = try await peers.run("raw_violation", ["port": proxy.port, "violation": "utf8", "tag": freshTag()])
                #expect(client["close_code"]?.int == 1007, "\(client)")

                let seen = try #require(try await server.waitForEnded(1).first)
                #expect(seen.closeSent == 1007 && seen.closeReceived == 1007, "\(seen)")
                #expect(seen.textMessages == 2)

                let connection = try await proxy.connection(clientPort: try #require(client["local_port"]?.int))
                expectDiagnosis(connection, id: "text-not-utf8", category: "non-utf8-text")
                #expect(connection["close"]?["initiator"]?.string == "server")
                #expect(connection["close"]?["code"]?.int == 1007)
                #expect(connection["close"]?["reason"]?.string == "invalid UTF-8")
                #expect(connection["close"]?["echo_code"]?.int == 1007)
                #expect(connection["violations"]?[0]?["kind"]?.string == "text-not-utf8", "\(connection)")
                #expect(connection["violations"]?[0]?["side"]?.string == "client")
                #expect(connection["traffic"]?["server"]?["messages"]?.int == 1, "only the valid message was echoed")
                try await expectCleanStop(proxy, counts: ["non-utf8-text": 1])
            }
        }
    }
}
