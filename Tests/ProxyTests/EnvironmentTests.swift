import Foundation
import Testing

/// `WSDOCTOR_*` variables configure the proxy; flags win; a misconfiguration is one line.
extension ProxyTests {
    /// Runs `wsdoctor proxy` with `environment` until it exits (it must, within 10 s).
    private func proxyExit(_ arguments: [String], environment: [String: String]) throws -> (status: Int32, stderr: String) {
        try wsdoctorExit(["proxy"] + arguments, environment: environment)
    }

    @Test("a bad variable stops start-up with one line naming it")
    func badVariables() throws {
        let listen = try proxyExit([], environment: ["WSDOCTOR_LISTEN": "nowhere", "WSDOCTOR_UPSTREAM": "ws://127.0.0.1:9"])
        #expect(listen.status == 2)
        #expect(listen.stderr == "wsdoctor: --listen (WSDOCTOR_LISTEN) must be HOST:PORT, e.g. 127.0.0.1:8080 (got nowhere)\n")
        let flag = try proxyExit([], environment: ["WSDOCTOR_FRAMES": "maybe"])
        #expect(flag.status == 2 && flag.stderr == "wsdoctor: WSDOCTOR_FRAMES=maybe: expected true or false\n")
        let rules = try proxyExit([], environment: ["WSDOCTOR_LISTEN": "127.0.0.1:0", "WSDOCTOR_UPSTREAM": "ws://127.0.0.1:9",
                                                    "WSDOCTOR_RULES": "/nonexistent/rules.yaml"])
        #expect(rules.status == 2 && rules.stderr.split(separator: "\n").count == 1 && rules.stderr.contains("/nonexistent/rules.yaml"))
    }

    @Test("variables configure the proxy and flags win over them")
    func variablesConfigureAndFlagsWin() async throws {
        let peers = try PeerHost.shared
        // The variable names a port nothing listens on; the flag's upstream is the real server.
        setenv("WSDOCTOR_UPSTREAM", "ws://127.0.0.1:9", 1)
        defer { unsetenv("WSDOCTOR_UPSTREAM") }
        try await withProxy(upstream: peers.mainPort) { proxy in
            let client = try await peers.run("session", ["port": proxy.port, "path": "/echo?tag=\(freshTag())", "messages": ["hi"]])
            #expect(client["close_code"]?.int == 1000)
            try await expectCleanStop(proxy, counts: ["normal": 1])
        }
    }
}
