import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `wsdoctor sniff --html FILE --har FILE`: the files hold the connections seen, and are
/// written again at stop.
extension ProxyTests {
    @Test("sniff keeps --html and --har files of the connections it saw", .enabled(if: canCapture))
    func sniffWritesTheReportFiles() async throws {
        let peers = try PeerHost.shared
        let server = try await peers.run("new_server", ["routed": true])
        let port = try #require(server["port"]?.int)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wsdoctor-sniff-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let html = directory.appendingPathComponent("report.html"), har = directory.appendingPathComponent("report.har")
        let sniff = try await SniffProcess.start(port: port, extraArguments: ["--html", html.path, "--har", har.path])
        defer { sniff.cleanUp() }
        let session = try await peers.run("session", ["port": port, "path": "/echo?tag=\(freshTag())&token=hunter2", "messages": ["one", "two"]])
        let client = try #require(session["local_port"]?.int)
        _ = try await sniff.connection(clientPort: client)
        let (status, _) = try await sniff.stop(signal: SIGINT)
        #expect(status == 0)

        let page = try String(contentsOf: html, encoding: .utf8)
        #expect(page.contains("\"client\":\"127.0.0.1:\(client)\""))
        #expect(page.contains("\"category\":\"normal\""))
        #expect(!page.contains("hunter2"), "the token is redacted")
        let log = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: har)) as? [String: Any])
        let entries = try #require((log["log"] as? [String: Any])?["entries"] as? [[String: Any]])
        #expect(entries.count == 1)
        let messages = try #require(entries.first?["_webSocketMessages"] as? [[String: Any]])
        // Two messages each way and both close frames.
        #expect(messages.filter { $0["opcode"] as? Int == 1 }.count == 4)
        #expect(messages.filter { $0["opcode"] as? Int == 8 }.count == 2)
    }
}
