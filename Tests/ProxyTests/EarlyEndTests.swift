import Foundation
import Testing

/// Clients that end their side before the upstream connection is even up.
extension ProxyTests {
    @Test("bytes and a FIN sent at once, before the upstream is connected, still reach it", arguments: 0..<5)
    func finRightAfterTheRequest(round: Int) async throws {
        let peers = try PeerHost.shared
        // The raw server reads until the client's FIN, only then answers, then closes.
        let server = try await peers.run("raw_server", ["script_name": "large", "mode": "after-eof"])
        let upstreamPort = try #require(server["port"]?.int)
        try await withProxy(upstream: upstreamPort) { proxy in
            let request = Data("GET /plain HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
            let client = try await peers.run("raw_exchange", ["port": proxy.port, "data_b64": request.base64EncodedString(),
                                                              "mode": "fin", "pause": 0.0])
            let recorded = try await peers.run("raw_server_result", ["server": server["server"]?.int ?? 0])
            #expect(recorded["received_len"]?.int == request.count, "round \(round): \(recorded)")
            let received = Data(base64Encoded: client["received_b64"]?.string ?? "") ?? Data()
            #expect(received.count > 1_000_000, "round \(round): the answer that follows the FIN arrives whole")
            #expect(client["ending"]?.string == "eof", "round \(round): \(client)")
        }
    }
}
