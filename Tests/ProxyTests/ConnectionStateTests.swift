import Foundation
import Testing

/// A finished connection gives back what it held: the proxy counts its per-connection states
/// in memory (`wsdoctor_connection_states_held`), and the count falls back as each connection
/// ends, however it ended. A state kept after its connection (a reference cycle, a table
/// never emptied) keeps the count up.
extension ProxyTests {
    @Test("a finished connection's state is freed: connection_states_held back to 1, then 0, after normal, reset, refused, violating and raw clients")
    func finishedConnectionStateIsFreed() async throws {
        let peers = try PeerHost.shared
        try await withProxy(upstream: peers.mainPort, extraArguments: ["--admin", "127.0.0.1:0"]) { proxy in
            let base = try await adminBase(proxy)
            func statesHeld() throws -> Double? {
                let (status, body) = try scrape(base + "/metrics")
                return status == 200 ? sample(body, "wsdoctor_connection_states_held") : nil
            }
            #expect(try statesHeld() == 0)

            let held = try await peers.run("hold_open", ["port": proxy.port, "tag": freshTag()])
            _ = try await peers.run("session", ["port": proxy.port, "path": "/echo?tag=\(freshTag())", "messages": ["hello"]])
            _ = try await peers.run("reset", ["port": proxy.port, "tag": freshTag()])
            _ = try await peers.run("rejected", ["port": proxy.port])
            _ = try await peers.run("raw_violation", ["port": proxy.port, "violation": "unmasked", "tag": freshTag()])
            let early = try RawTCPClient(port: proxy.port)
            try early.send(Array("GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n".utf8))
            early.reset()

            // Only the held session's state is left once the others have ended.
            _ = try await poll("connection_states_held to fall to 1 (now \(String(describing: try? statesHeld())))") { () -> Bool? in
                try statesHeld() == 1 ? true : nil
            }
            _ = try await peers.run("hold_close", ["hold": held["hold"]?.int ?? 0])
            _ = try await poll("connection_states_held to fall to 0 (now \(String(describing: try? statesHeld())))") { () -> Bool? in
                try statesHeld() == 0 ? true : nil
            }
            let (_, metrics) = try scrape(base + "/metrics")
            #expect(sample(metrics, "wsdoctor_connections_active") == 0)
            #expect((sample(metrics, "wsdoctor_connections_total") ?? 0) >= 5, "\(metrics)")
        }
    }
}
