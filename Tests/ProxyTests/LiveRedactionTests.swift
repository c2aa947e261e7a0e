import Foundation
import Testing

/// `?pw=` (a default credential name) and a name added with `--redact` never reach what the
/// live modes print or write: proxy's JSON and text (with `--frames`), sniff's JSON, HTML
/// and HAR.
extension ProxyTests {
    static let password = "hunter2pw"
    static let room = "room-secret-4711"

    /// A request path carrying both secrets.
    func secretPath() -> String { "/echo?tag=\(freshTag())&pw=\(Self.password)&room=\(Self.room)" }

    func expectNoSecret(_ text: String, in place: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!text.contains(Self.password), "pw's value in \(place): \(text)", sourceLocation: sourceLocation)
        #expect(!text.contains(Self.room), "room's value (--redact room) in \(place): \(text)", sourceLocation: sourceLocation)
    }

    @Test("proxy --redact: neither ?pw= nor the added name shows, in JSON or in text with --frames", arguments: ["json", "text"])
    func proxyRedactsLive(format: String) async throws {
        let peers = try PeerHost.shared
        try await withProxy(upstream: peers.mainPort, format: format, extraArguments: ["--redact", "room", "--frames"]) { proxy in
            let session = try await peers.run("session", ["port": proxy.port, "path": secretPath(), "messages": ["hello"]])
            #expect(session["close_code"]?.int == 1000, "\(session)")
            let printed = try await poll("the report; printed so far:\n\(proxy.stdout.text)") { () -> String? in
                let text = proxy.stdout.text
                return text.contains(format == "json" ? "\"normal-close\"" : "    diagnosis  normal:") ? text : nil
            }
            expectNoSecret(printed, in: "proxy's \(format) output")
            #expect(printed.contains("pw=REDACTED&room=REDACTED"), "\(printed)")
            if format == "json" {
                let report = try await proxy.connection(clientPort: try #require(session["local_port"]?.int))
                #expect(report["handshake"]?["path"]?.string?.hasSuffix("&pw=REDACTED&room=REDACTED") == true, "\(report)")
            } else {
                #expect(printed.contains("GET /echo?tag="), "the frames show the request line: \(printed)")
            }
            let (status, _) = try await proxy.stop()
            #expect(status == 0)
            expectNoSecret(proxy.stdout.text + proxy.stderr.text, in: "proxy's whole output")
        }
    }

    @Test("sniff --redact: neither ?pw= nor the added name shows, in JSON, HTML or HAR", .enabled(if: canCapture))
    func sniffRedactsLive() async throws {
        let peers = try PeerHost.shared
        let server = try await peers.run("new_server", ["routed": true])
        let port = try #require(server["port"]?.int)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wsdoctor-sniff-redact-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let html = directory.appendingPathComponent("report.html"), har = directory.appendingPathComponent("report.har")
        let sniff = try await SniffProcess.start(port: port, extraArguments: ["--redact", "room", "--frames", "--html", html.path, "--har", har.path])
        defer { sniff.cleanUp() }
        let session = try await peers.run("session", ["port": port, "path": secretPath(), "messages": ["hello"]])
        let report = try await sniff.connection(clientPort: try #require(session["local_port"]?.int))
        #expect(report["handshake"]?["path"]?.string?.hasSuffix("&pw=REDACTED&room=REDACTED") == true, "\(report)")
        let (status, _) = try await sniff.stop(signal: SIGINT)
        #expect(status == 0, "stderr: \(sniff.stderr.text)")
        expectNoSecret(sniff.stdout.text + sniff.stderr.text, in: "sniff's output")
        let page = try String(contentsOf: html, encoding: .utf8)
        let log = try String(contentsOf: har, encoding: .utf8)
        expectNoSecret(page, in: "the HTML report")
        expectNoSecret(log, in: "the HAR")
        #expect(log.contains("pw=REDACTED&room=REDACTED"), "the HAR keeps the redacted URL")
        _ = try await peers.run("shutdown_close", ["server": server["server"]?.int ?? 0, "port": port, "code": 1001, "reason": "done"])
    }
}
