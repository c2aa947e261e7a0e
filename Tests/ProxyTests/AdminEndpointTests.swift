import Foundation
import Testing

/// `--admin`: metrics and health scraped over HTTP, checked against the closes the test caused.
extension ProxyTests {
    /// GET over HTTP with Python's standard library; returns status and body.
    func scrape(_ url: String) throws -> (status: Int, body: String) {
        try http("GET", url)
    }

    /// The value of one sample line, e.g. `wsdoctor_closes_total{code="1008",…}`.
    func sample(_ metrics: String, _ series: String) -> Double? {
        metrics.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    @Test("metrics and health endpoints reflect the closes that happened")
    func adminEndpoint() async throws {
        let peers = try PeerHost.shared
        try await withProxy(upstream: peers.mainPort, extraArguments: ["--admin", "127.0.0.1:0"]) { proxy in
            let notice = try await poll("the admin notice") { () -> String? in
                proxy.stdout.lines.compactMap { JSONValue.parse(String($0))?["message"]?.string }.first { $0.hasPrefix("admin endpoint on ") }
            }
            let base = String(notice.dropFirst("admin endpoint on ".count).prefix { $0 != " " })
            #expect(try scrape(base + "/healthz").status == 200)
            #expect(try scrape(base + "/readyz").status == 200)

            _ = try await peers.run("session", ["port": proxy.port, "path": "/policy?tag=\(freshTag())",
                                                "messages": ["hello", "forbidden word"], "close": false])
            _ = try await peers.run("raw_violation", ["port": proxy.port, "violation": "unmasked", "tag": freshTag()])
            _ = try await peers.run("rejected", ["port": proxy.port])
            _ = try await proxy.waitForConnections(3)

            let (status, metrics) = try scrape(base + "/metrics")
            #expect(status == 200)
            #expect(sample(metrics, "wsdoctor_connections_total") == 3)
            #expect(sample(metrics, "wsdoctor_connections_active") == 0)
            #expect(sample(metrics, #"wsdoctor_closes_total{code="1008",category="policy",initiator="server"}"#) == 1, "\(metrics)")
            #expect(sample(metrics, #"wsdoctor_closes_total{code="1002",category="protocol-violation",initiator="server"}"#) == 1)
            #expect(sample(metrics, #"wsdoctor_violations_total{side="client",kind="client-frame-unmasked"}"#) == 1)
            #expect(sample(metrics, #"wsdoctor_handshake_failures_total{status="429"}"#) == 1)
            #expect((sample(metrics, #"wsdoctor_relayed_bytes_total{direction="client_to_server"}"#) ?? 0) > 0)
            #expect((sample(metrics, #"wsdoctor_relayed_bytes_total{direction="server_to_client"}"#) ?? 0) > 0)
            #expect(try scrape(base + "/nothing").status == 404)
            try await expectCleanStop(proxy, counts: ["policy": 1, "protocol-violation": 1, "overload": 1])
        }
    }
}
