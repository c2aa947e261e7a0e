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

    @Test("the limits' variables are read: a bad value names its variable, WSDOCTOR_MAX_CONNECTIONS limits")
    func limitVariables() async throws {
        for (variable, flag) in [("WSDOCTOR_HEAD_TIMEOUT", "head-timeout"), ("WSDOCTOR_UPGRADE_TIMEOUT", "upgrade-timeout"),
                                 ("WSDOCTOR_MAX_CONNECTIONS", "max-connections")] {
            let bad = try proxyExit([], environment: [variable: "soon", "WSDOCTOR_UPSTREAM": "ws://127.0.0.1:9"])
            #expect(bad.status == 2)
            #expect(bad.stderr.hasPrefix("wsdoctor: The value 'soon' is invalid for '--\(flag) (\(variable)) <\(flag)>'"), "\(bad.stderr)")
            #expect(bad.stderr.split(separator: "\n").count == 1, "\(bad.stderr)")
        }
        let peers = try PeerHost.shared
        let proxy = try await ProxyProcess.start(upstreamPort: peers.mainPort, extraArguments: ["--drain-timeout", "0.2"],
                                                 variables: ["WSDOCTOR_MAX_CONNECTIONS": "1"])
        defer { proxy.cleanUp() }
        let held = try await peers.run("hold_open", ["port": proxy.port, "tag": freshTag()])
        let refused = try await peers.run("rejected", ["port": proxy.port, "path": "/echo"])
        #expect(refused["status"]?.int == 503, "\(refused)")
        try await expectCleanStop(proxy, counts: ["restart": 1], signal: SIGTERM)
        _ = try await peers.run("hold_wait_closed", ["hold": held["hold"]?.int ?? 0])
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
