import Foundation
import Testing

/// TLS on both legs, with a throwaway certificate authority made for the test.
extension ProxyTests {
    static let opensslInstalled = FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")

    /// Runs a command to completion, bounded to 30 s.
    private func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
    }

    @Test("TLS from the client and to a wss:// upstream, with key logging", .enabled(if: opensslInstalled))
    func tlsOnBothLegs() async throws {
        let peers = try PeerHost.shared
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wsdoctor-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        try "subjectAltName=DNS:localhost,IP:127.0.0.1\n".write(toFile: path("ext.cnf"), atomically: true, encoding: .utf8)
        for arguments in [
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path("ca.key"), "-out", path("ca.pem"), "-days", "1", "-subj", "/CN=wsdoctor test CA"],
            ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", path("server.key"), "-out", path("server.csr"), "-subj", "/CN=localhost"],
            ["x509", "-req", "-in", path("server.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"), "-CAcreateserial",
             "-out", path("server.pem"), "-days", "1", "-extfile", path("ext.cnf")],
        ] {
            let result = try run("/usr/bin/openssl", arguments)
            try #require(result.status == 0, "openssl \(arguments.first!): \(result.output)")
        }
        let tlsServer = ["--tls-cert", path("server.pem"), "--tls-key", path("server.key")]
        // Back proxy: TLS in, plain ws to the real server. Front proxy: TLS in, wss:// to the back proxy.
        try await withProxy(upstream: peers.mainPort, extraArguments: tlsServer) { back in
            let front = try await ProxyProcess.start(upstreamPort: back.port, format: "json", extraArguments: tlsServer + [
                "--upstream-ca", path("ca.pem"), "--keylog", path("keys.log"),
            ], upstreamURL: "wss://localhost:\(back.port)")
            defer { front.cleanUp() }
            let script = """
                import asyncio, ssl, sys, websockets
                async def main():
                    context = ssl.create_default_context(cafile=sys.argv[2])
                    async with websockets.connect(f"wss://localhost:{sys.argv[1]}/echo?tag=tls", ssl=context, compression=None) as ws:
                        await ws.send("hello over tls")
                        print(await ws.recv())
                asyncio.run(main())
                """
            let client = try run(PeerHost.pythonPath.path, ["-c", script, String(front.port), path("ca.pem")])
            #expect(client.status == 0 && client.output.contains("hello over tls"), "\(client.output)")
            let frontConnections = try await expectCleanStop(front, counts: ["normal": 1])
            #expect(frontConnections.first?["handshake"]?["path"]?.string == "/echo?tag=tls")
            let backConnections = try await expectCleanStop(back, counts: ["normal": 1])
            #expect(backConnections.count == 1)
        }
        let keys = try String(contentsOfFile: path("keys.log"), encoding: .utf8)
        let randoms = Set(keys.split(separator: "\n").compactMap { line in line.split(separator: " ").dropFirst().first })
        #expect(randoms.count >= 2, "secrets of both legs: \(keys)")
        #expect(keys.contains("CLIENT_HANDSHAKE_TRAFFIC_SECRET") || keys.contains("CLIENT_RANDOM"))
    }

    @Test("a wss:// upstream whose certificate is not trusted gets the client a 502 naming TLS", .enabled(if: opensslInstalled))
    func untrustedUpstreamCertificate() async throws {
        let peers = try PeerHost.shared
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wsdoctor-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let key = directory.appendingPathComponent("self.key").path, certificate = directory.appendingPathComponent("self.pem").path
        let made = try run("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate,
                                                "-days", "1", "-subj", "/CN=localhost"])
        try #require(made.status == 0, "\(made.output)")
        try await withProxy(upstream: peers.mainPort, extraArguments: ["--tls-cert", certificate, "--tls-key", key]) { back in
            // The front proxy trusts only the system store, which does not know this certificate.
            let front = try await ProxyProcess.start(upstreamPort: back.port, format: "json", upstreamURL: "wss://localhost:\(back.port)")
            defer { front.cleanUp() }
            let request = "GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: d3Nkb2N0b3ItcHJveHktdA==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            let client = try await peers.run("raw_exchange", ["port": front.port, "data_b64": Data(request.utf8).base64EncodedString()])
            let answer = String(decoding: Data(base64Encoded: client["received_b64"]?.string ?? "") ?? Data(), as: UTF8.self)
            #expect(answer.hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"), "\(answer)")
            #expect(answer.contains("TLS handshake with the upstream failed"), "\(answer)")
            let connections = try await expectCleanStop(front, counts: ["upstream-unreachable": 1])
            #expect(connections.first?["diagnosis"]?["evidence"]?["upstream.error"]?.string?.contains("CERTIFICATE_VERIFY_FAILED") == true)
            _ = try await back.stop(signal: SIGINT)
        }
    }
}
