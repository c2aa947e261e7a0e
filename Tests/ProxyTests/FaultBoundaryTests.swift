import Foundation
import Testing

/// Where faults act in the byte stream, with raw clients that control their reads: at the
/// end of the Nth message even when one read holds more, on a frame split across reads, and
/// how wsdoctor's own close and the peers' answers to it are reported.
extension ProxyTests {
    @Test("after_messages fires at the end of the Nth message of one write: the server never gets the third", arguments: [
        ("server", 1001), ("client", 1013),
    ])
    func faultFiresMidRead(toward: String, code: Int) async throws {
        let peers = try PeerHost.shared
        // The SwiftNIO server counts every message it reads, also those just before a close frame.
        try await withNIOEchoServer { server in
            try await withFaults("  - {id: cut, action: close, code: \(code), toward: \(toward), after_messages: 2}\n", upstream: server.port) { proxy in
                let client = try await peers.run("burst_client", ["port": proxy.port, "path": "/nio", "messages": ["one", "two", "three"]])
                let seen = try #require(try await server.waitForEnded(1).first)
                #expect(seen.textMessages == 2, "message 3 came after the fault's boundary: \(seen)")
                let connection = try await proxy.connection(clientPort: try #require(client["local_port"]?.int))
                expectDiagnosis(connection, id: "fault-closed", category: "fault-injected")
                let close = connection["close"]
                #expect(close?["initiator"]?.string == "wsdoctor", "\(connection)")
                #expect(close?["code"]?.int == code, "\(connection)")
                if toward == "server" {
                    #expect(seen.closeReceived == 1001, "\(seen)")
                    #expect(client["close_code"] == .null, "the client got only the TCP close: \(client)")
                    #expect(close?["echo_by"]?.string == "server", "\(connection)")
                    #expect(close?["echo_code"]?.int == 1001, "the server's answer is reported as an answer: \(connection)")
                } else {
                    #expect(client["close_code"]?.int == 1013, "\(client)")
                    #expect(client["received"]?.array?.isEmpty == true, "the close came before the echoes: \(client)")
                    #expect(seen.closeReceived == nil, "the server got only the TCP close: \(seen)")
                    #expect(close?["echo_by"]?.string == "client", "\(connection)")
                    #expect(close?["echo_code"]?.int == 1013, "\(connection)")
                }
                #expect(close?["handshake_complete"]?.bool == true, "\(connection)")
            }
        }
    }

    @Test("a frame split across two reads is still edited", arguments: [
        // action, opcode, payload, bytes in the first read
        ("drop-pings", 0x9, "are you there", 1),
        ("drop-pongs", 0xA, "unasked", 3),
        ("set-rsv1", 0x1, "hello", 1),
        ("corrupt-utf8", 0x1, "héllo", 4),
    ])
    func faultEditsASplitFrame(action: String, opcode: Int, payload: String, cut: Int) async throws {
        let peers = try PeerHost.shared
        try await withFaults("  - {id: edit, action: \(action), toward: server}\n", upstream: peers.mainPort) { proxy in
            let client = try await peers.run("split_frame_client", ["port": proxy.port, "path": "/echo", "opcode": opcode,
                                                                    "payload": payload, "cut": cut])
            let received = client["received"]?.array ?? []
            let connection = try await proxy.connection(clientPort: try #require(client["local_port"]?.int))
            expectDiagnosis(connection, id: "fault-injected", category: "fault-injected")
            let done = connection["fault"]?["done"]?.string ?? ""
            switch action {
            case "drop-pings":
                #expect(!received.contains { $0[0]?.int == 0xA }, "the ping reached the server, which answered it: \(client)")
                #expect(received.last?[1]?.string == "after", "\(client)")
                #expect(done == "dropped 1 ping toward the server", "\(connection)")
            case "drop-pongs":
                #expect(received.last?[1]?.string == "after", "\(client)")
                #expect(done == "dropped 1 pong toward the server", "\(connection)")
            case "set-rsv1":
                #expect(client["close_code"]?.int == 1002, "the server got RSV1 without an extension: \(client)")
                #expect(done == "set RSV1 on data frame 0 toward the server", "\(connection)")
            default:
                #expect(client["close_code"]?.int == 1007, "the server got broken UTF-8: \(client)")
                #expect(done.hasPrefix("broke the UTF-8 of a text message toward the server (frame 0)"), "\(connection)")
            }
            #expect(connection["violations"]?.array?.isEmpty == true, "the client's own frame was valid: \(connection)")
        }
    }

    @Test("the text report gives wsdoctor's close and the peer's answer to it, never the peer as the closer")
    func faultCloseInTheTextReport() async throws {
        let peers = try PeerHost.shared
        try await withFaults("  - {id: overload, action: close, code: 1013, reason: try again later, after_messages: 2}\n",
                             upstream: peers.mainPort, format: "text") { proxy in
            _ = try await peers.run("fault_client", ["port": proxy.port, "path": "/echo", "messages": ["hello", "more"]])
            let text = try await poll("the text report") { () -> String? in
                let text = proxy.stdout.text
                return text.contains("diagnosis") ? text : nil
            }
            let close = try #require(text.split(separator: "\n").first { $0.hasPrefix("    close ") }, "\(text)")
            #expect(close.contains("wsdoctor sent 1013 Try Again Later \"try again later\" to the client (fault overload, not a peer's close); the client answered 1013 after "),
                    "\(text)")
            #expect(!close.contains("client sent"), "\(text)")
        }
    }
}
