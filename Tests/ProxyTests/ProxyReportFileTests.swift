import Foundation
import Testing
import WireTestSupport

/// `wsdoctor proxy --html FILE --har FILE` between Python `websockets` peers: the files are
/// rewritten every few seconds with the open connections shown as open, and at stop; the
/// page loads in headless Chromium.
extension ProxyTests {
    @Test("proxy --html/--har: an open connection is shown as open, then finished on the next rewrite")
    func proxyWritesLiveReportFiles() async throws {
        let peers = try PeerHost.shared
        let files = try ReportFiles()
        defer { files.remove() }
        let (html, har) = (files.html, files.har)
        let proxy = try await ProxyProcess.start(upstreamPort: peers.mainPort, extraArguments: files.arguments)
        defer { proxy.cleanUp() }
        let session = try await peers.run("session", ["port": proxy.port, "path": "/echo?tag=\(freshTag())&token=hunter2", "messages": ["one", "two"]])
        let finishedPort = try #require(session["local_port"]?.int)
        _ = try await proxy.connection(clientPort: finishedPort)
        let held = try await peers.run("hold_open", ["port": proxy.port, "tag": freshTag()])
        let openPort = try #require(held["local_port"]?.int)

        // The next rewrite (every 5 s) has the finished connection and the open one.
        let openClient = "\"client\":\"127.0.0.1:\(openPort)\""
        let withOpen = try await poll(timeout: 15, "a report with the open connection") { () -> String? in
            let page = try? String(contentsOf: html, encoding: .utf8)
            // Its echo is in (two frames; the finished connection has six).
            return page.flatMap { $0.contains(openClient) && $0.contains("\"frames\":2,") ? $0 : nil }
        }
        #expect(withOpen.contains("\"client\":\"127.0.0.1:\(finishedPort)\""))
        #expect(withOpen.contains("\"open\":true") && withOpen.contains("\"category\":\"open\""))
        #expect(!withOpen.contains("hunter2"), "the token is redacted")
        let overview = try await renderedDOM("file://\(html.path)")
        #expect(overview.contains("data-requests=\"0\""))
        #expect(overview.contains("<dt>connections</dt><dd>2</dd>"))
        #expect(overview.contains("<dt>open</dt><dd>1</dd>"))
        #expect(overview.contains("data-category=\"open\" data-count=\"1\""))
        #expect(overview.contains("data-category=\"normal\" data-count=\"1\""))
        let detail = try await renderedDOM("file://\(html.path)#c2")
        #expect(detail.contains("Still open: no diagnosis yet."))
        #expect(detail.contains("still open,"))
        // Its handshake and one echoed message so far: two frames.
        #expect(detail.contains("data-marks=\"2\""), "the open connection's frames so far")
        let openEntries = try entries(of: har)
        #expect(openEntries.count == 2)
        #expect(openEntries.last?["_resourceType"] as? String == "websocket")
        #expect((openEntries.last?["_wsdoctor"] as? [String: Any])?["open"] as? Bool == true)

        // Closed: the rewrite after has it finished, and nothing open.
        _ = try await peers.run("hold_close", ["hold": try #require(held["hold"]?.int)])
        _ = try await proxy.connection(clientPort: openPort)
        let finished = try await poll(timeout: 15, "a report with the connection finished") { () -> String? in
            let page = try? String(contentsOf: html, encoding: .utf8)
            return page.flatMap { $0.contains(openClient) && !$0.contains("\"open\":true") ? $0 : nil }
        }
        #expect(finished.components(separatedBy: "\"category\":\"normal\"").count - 1 == 2)
        let after = try await renderedDOM("file://\(html.path)")
        #expect(after.contains("data-category=\"normal\" data-count=\"2\""))
        #expect(!after.contains("<dt>open</dt>"))

        try await expectCleanStop(proxy, counts: ["normal": 2])
        let last = try entries(of: har)
        #expect(last.count == 2)
        for entry in last {
            let wsdoctor = try #require(entry["_wsdoctor"] as? [String: Any])
            #expect(wsdoctor["open"] as? Bool == false)
            #expect((wsdoctor["diagnosis"] as? [String: Any])?["category"] as? String == "normal")
            let messages = try #require(entry["_webSocketMessages"] as? [[String: Any]])
            #expect(messages.allSatisfy { ["send", "receive"].contains($0["type"] as? String ?? "") && $0["time"] as? Double != nil && $0["opcode"] as? Int != nil })
            #expect(messages.filter { $0["opcode"] as? Int == 8 }.count == 2, "both close frames")
        }
    }

    private func entries(of har: URL) throws -> [[String: Any]] {
        let log = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: har)) as? [String: Any])
        #expect((log["log"] as? [String: Any])?["version"] as? String == "1.2")
        return try #require((log["log"] as? [String: Any])?["entries"] as? [[String: Any]])
    }
}
