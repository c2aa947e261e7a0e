import Foundation
import Testing
import WireTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `wsdoctor sniff --html FILE --har FILE`: the files hold the connections seen, and are
/// written again at stop.
extension ProxyTests {
    @Test("sniff keeps --html and --har files of the connections it saw", .enabled(if: canCapture))
    func sniffWritesTheReportFiles() async throws {
        let peers = try PeerHost.shared
        let (sniff, files, port) = try await sniffKeepingReportFiles(peers)
        defer { sniff.cleanUp(); files.remove() }
        let (html, har) = (files.html, files.har)
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

    @Test("sniff --html/--har show a connection still open as open, then finished", .enabled(if: canCapture))
    func sniffShowsOpenConnections() async throws {
        let peers = try PeerHost.shared
        let (sniff, files, port) = try await sniffKeepingReportFiles(peers)
        defer { sniff.cleanUp(); files.remove() }
        let (html, har) = (files.html, files.har)
        let held = try await peers.run("hold_open", ["port": port, "tag": freshTag()])
        let client = "\"client\":\"127.0.0.1:\(try #require(held["local_port"]?.int))\""
        // Within two rewrites (every 5 s): its handshake and its echo, two frames.
        let open = try await poll(timeout: 15, "the open connection in the report") { () -> String? in
            let page = try? String(contentsOf: html, encoding: .utf8)
            return page.flatMap { $0.contains(client) && $0.contains("\"open\":true") && $0.contains("\"frames\":2,") ? $0 : nil }
        }
        #expect(open.contains("\"category\":\"open\""))
        let dom = try await renderedDOM("file://\(html.path)#c1")
        #expect(dom.contains("Still open: no diagnosis yet."))
        #expect(dom.contains("data-marks=\"2\""))
        let log = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: har)) as? [String: Any])
        let entries = try #require((log["log"] as? [String: Any])?["entries"] as? [[String: Any]])
        #expect((entries.first?["_wsdoctor"] as? [String: Any])?["open"] as? Bool == true)

        _ = try await peers.run("hold_close", ["hold": try #require(held["hold"]?.int)])
        let finished = try await poll(timeout: 15, "the connection finished in the report") { () -> String? in
            let page = try? String(contentsOf: html, encoding: .utf8)
            return page.flatMap { $0.contains(client) && !$0.contains("\"open\":true") ? $0 : nil }
        }
        #expect(finished.contains("\"category\":\"normal\""))
        let (status, _) = try await sniff.stop(signal: SIGINT)
        #expect(status == 0)
    }
}

extension ProxyTests {
    /// A routed server of its own, and sniff on its port keeping the report files.
    func sniffKeepingReportFiles(_ peers: PeerHost) async throws -> (SniffProcess, ReportFiles, Int) {
        let server = try await peers.run("new_server", ["routed": true])
        let port = try #require(server["port"]?.int)
        let files = try ReportFiles()
        do {
            return (try await SniffProcess.start(port: port, extraArguments: files.arguments), files, port)
        } catch {
            files.remove()
            throw error
        }
    }
}

/// The page headless Chromium rendered, waited for off the test's thread pool (a browser run
/// takes seconds, and the pool is as small as the machine).
func renderedDOM(_ url: String) async throws -> String {
    try await withCheckedThrowingContinuation { done in
        DispatchQueue.global().async { done.resume(with: Result { try HeadlessChromium.dumpDOM(url).dom }) }
    }
}

/// A fresh directory for the `--html` and `--har` files of one test.
struct ReportFiles {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wsdoctor-report-\(UUID().uuidString)")
    var html: URL { directory.appendingPathComponent("report.html") }
    var har: URL { directory.appendingPathComponent("report.har") }
    var arguments: [String] { ["--html", html.path, "--har", har.path] }

    init() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}
