import Foundation
import Testing

/// `wsdoctor proxy --control`: the fault API driven over HTTP (Python's urllib), against the
/// websockets server and client.
extension ProxyTests {
    /// One HTTP request with Python's standard library; returns status and body.
    func http(_ method: String, _ url: String, _ body: String? = nil) throws -> (status: Int, body: String) {
        let process = Process()
        process.executableURL = PeerHost.pythonPath
        process.arguments = ["-c", """
            import sys, urllib.request, urllib.error
            data = sys.argv[3].encode() if len(sys.argv) > 3 else None
            request = urllib.request.Request(sys.argv[2], data=data, method=sys.argv[1])
            try:
                r = urllib.request.urlopen(request, timeout=5); status, body = r.status, r.read()
            except urllib.error.HTTPError as e:
                status, body = e.code, e.read()
            sys.stdout.write(f"{status}\\n"); sys.stdout.buffer.write(body)
            """, method, url] + (body.map { [$0] } ?? [])
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        return (Int(text.prefix { $0 != "\n" }) ?? 0, String(text.drop { $0 != "\n" }.dropFirst()))
    }

    @Test("the control API adds, lists and removes faults, lists connections and closes one now; bad input gets 400")
    func controlAPI() async throws {
        let peers = try PeerHost.shared
        try await withProxy(upstream: peers.mainPort, extraArguments: ["--control", "127.0.0.1:0"]) { proxy in
            let notices = proxy.stdout.lines.compactMap { JSONValue.parse(String($0))?["message"]?.string }
            #expect(notices.first?.contains("faults may be injected through --control") == true, "\(notices)")
            let notice = try await poll("the control notice") { () -> String? in
                proxy.stdout.lines.compactMap { JSONValue.parse(String($0))?["message"]?.string }.first { $0.hasPrefix("fault control API on ") }
            }
            let base = String(notice.dropFirst("fault control API on ".count).prefix { $0 != " " })

            // Bad input: the same checks as a faults file, as a 400 with the reason.
            for (body, reason) in [(#"{"id": "x", "action": "explode"}"#, "unknown action `explode`"),
                                   (#"{"id": "x", "action": "close"}"#, "`close` needs `code`"),
                                   (#"{"id": "x", "action": "close", "code": 1015}"#, "close code 1015 may not be sent"),
                                   (#"{"id": "x", "action": "reset", "match": {"path": "echo"}}"#, "`match.path` must start with `/`"),
                                   ("{not json", "YAML syntax")] {
                let answer = try http("POST", base + "/faults", body)
                #expect(answer.status == 400, "\(body): \(answer)")
                #expect(JSONValue.parse(answer.body)?["error"]?.string?.contains(reason) == true, "\(body): \(answer)")
            }

            let added = try http("POST", base + "/faults",
                                 #"{"id": "kick", "action": "close", "code": 4000, "reason": "kicked", "toward": "client", "match": {"path": "/echo"}, "count": 1}"#)
            #expect(added.status == 201, "\(added)")
            #expect(try http("POST", base + "/faults", #"{"id": "kick", "action": "reset"}"#).status == 400, "a duplicate id")
            let kicked = try await peers.run("fault_client", ["port": proxy.port, "path": "/echo", "messages": ["hello"], "wait": 1.0])
            #expect(kicked["close_rcvd"]?.int == 4000, "\(kicked)")
            let connection = try await proxy.connection(clientPort: try #require(kicked["local_port"]?.int))
            expectDiagnosis(connection, id: "fault-closed", category: "fault-injected")
            expectFault(connection, id: "kick", action: "close", ended: true, done: "sent a close frame 4000 (kicked) to the client")
            let listed = JSONValue.parse(try http("GET", base + "/faults").body)
            #expect(listed?["faults"]?[0]?["id"]?.string == "kick", "\(String(describing: listed))")
            #expect(listed?["faults"]?[0]?["claimed"]?.int == 1, "\(String(describing: listed))")
            #expect(listed?["faults"]?[0]?["match"]?["path"]?.string == "/echo", "\(String(describing: listed))")
            #expect(try http("DELETE", base + "/faults/kick").status == 200)
            #expect(try http("DELETE", base + "/faults/kick").status == 404)

            // A connection held open is closed now, on request.
            async let held = peers.run("fault_client", ["port": proxy.port, "path": "/echo", "messages": ["hello"], "wait": 5.0])
            let open = try await poll("an open WebSocket connection in /connections") { () -> Int? in
                let rows = JSONValue.parse(try http("GET", base + "/connections").body)?["connections"]?.array ?? []
                return rows.first { $0["websocket"]?.bool == true }?["id"]?.int
            }
            #expect(try http("POST", base + "/connections/\(open)", #"{"id": "now", "action": "refuse", "status": 503}"#).status == 409)
            #expect(try http("POST", base + "/connections/9999", #"{"id": "now", "action": "reset"}"#).status == 404)
            let acted = try http("POST", base + "/connections/\(open)", #"{"id": "now", "action": "close", "code": 1012, "toward": "client"}"#)
            #expect(acted.status == 200, "\(acted)")
            let client = try await held
            #expect(client["close_rcvd"]?.int == 1012, "\(client)")
            let closed = try await proxy.connection(clientPort: try #require(client["local_port"]?.int))
            expectFault(closed, id: "now", action: "close", ended: true, done: "sent a close frame 1012 (Service Restart) to the client")
        }
    }
}
