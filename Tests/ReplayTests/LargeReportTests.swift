import Foundation
import PcapRecording
import Reporting
import Testing
import WebSocketWire
import WireTestSupport

/// `replay --html` on a generated capture big enough for the page's virtualised lists and
/// the per-connection frame bound: a thousand connections and one of more than 20,000
/// frames. The counts and the "not kept" note are checked in Chromium, with no page errors.
@Suite struct LargeReportTests {
    static let connections = 1_000
    /// Messages each way on the long connection: with its two close frames, 4,002 frames
    /// past the report's bound.
    static let longMessages = 12_000
    static let server = Endpoint(address: "10.1.0.1", port: 9001)
    static let key = "dGhlIHNhbXBsZSBub25jZQ=="

    /// Short connections (every tenth ends with a server 1011), then the long one.
    static func writeCapture(to path: String) throws {
        let recorder = try CaptureRecorder(path: path)
        let request = Array(("GET /feed HTTP/1.1\r\nHost: 10.1.0.1:9001\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n\r\n").utf8)
        let response = Array(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              + "Sec-WebSocket-Accept: \(WebSocketHandshake.acceptValue(forKey: key))\r\n\r\n").utf8)
        let mask: [UInt8] = [1, 2, 3, 4]
        func text(_ body: String, masked: Bool) -> [UInt8] { FrameBytes(opcode: 1, maskKey: masked ? mask : nil, payload: Array(body.utf8)).bytes }
        func close(_ code: UInt16, masked: Bool) -> [UInt8] {
            FrameBytes(opcode: 8, maskKey: masked ? mask : nil, payload: [UInt8(code >> 8), UInt8(code & 0xFF)]).bytes
        }
        var clock: Int64 = 1_700_000_000_000_000_000
        func send(_ id: Int, _ side: Side, _ bytes: [UInt8], after micros: Int64 = 200) {
            clock += micros * 1000
            bytes.withUnsafeBytes { recorder.data(connection: id, from: side, bytes: $0, at: Timestamp(nanoseconds: clock)) }
        }
        func exchange(_ id: Int, client: Endpoint, body: () -> Void, serverCloses code: UInt16?) {
            recorder.opened(connection: id, client: client, server: server, at: Timestamp(nanoseconds: clock))
            send(id, .client, request)
            send(id, .server, response)
            body()
            if let code {
                send(id, .server, close(code, masked: false))
                send(id, .client, close(code, masked: true))
                clock += 100_000
                recorder.finished(connection: id, from: .server, at: Timestamp(nanoseconds: clock))
            } else {
                send(id, .client, close(1000, masked: true))
                send(id, .server, close(1000, masked: false))
                clock += 100_000
                recorder.finished(connection: id, from: .server, at: Timestamp(nanoseconds: clock))
            }
            clock += 100_000
            recorder.finished(connection: id, from: .client, at: Timestamp(nanoseconds: clock))
        }
        for id in 0..<connections {
            let client = Endpoint(address: "10.0.\(id / 250).\(id % 250 + 1)", port: UInt16(40_000 + id % 20_000))
            exchange(id, client: client, body: {
                send(id, .client, text("hello \(id)", masked: true))
                send(id, .server, text("hello \(id)", masked: false))
            }, serverCloses: id % 10 == 9 ? 1011 : nil)
        }
        exchange(connections, client: Endpoint(address: "10.0.99.1", port: 50_000), body: {
            // A hundred messages a segment each way, a millisecond apart.
            for batch in 0..<(longMessages / 100) {
                let numbers = (batch * 100)..<(batch * 100 + 100)
                send(connections, .client, numbers.flatMap { text("tick \($0)", masked: true) }, after: 100_000)
                send(connections, .server, numbers.flatMap { text("tock \($0)", masked: false) })
            }
        }, serverCloses: nil)
        try recorder.close()
    }

    @Test func aLargeReportHasTheRightCountsAndBoundAndLoadsWithoutErrors() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wsdoctor-large-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let capture = directory.appendingPathComponent("large.pcap").path, html = directory.appendingPathComponent("large.html").path
        try Self.writeCapture(to: capture)
        let result = try runWSDoctor(["replay", "--format", "json", "--html", html, capture])
        #expect(result.status == 0, "\(result.stderr)")
        // What the page must show is what the same run printed, one JSON object a connection.
        let printed = result.stdout.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }.filter { $0["type"] as? String == "connection" }
        try #require(printed.count == Self.connections + 1)
        let traffic = try #require(printed.last?["traffic"] as? [String: [String: Any]])
        let longFrames = (traffic["client"]?["frames"] as? Int ?? 0) + (traffic["server"]?["frames"] as? Int ?? 0)
        #expect(longFrames == 2 * Self.longMessages + 2)
        let categories = Dictionary(grouping: printed) { ($0["diagnosis"] as? [String: Any])?["category"] as? String ?? "" }.mapValues(\.count)
        #expect(categories.count == 2 && categories["normal"] == Self.connections * 9 / 10 + 1, "\(categories)")
        let page = try String(contentsOfFile: html, encoding: .utf8)
        let omitted = longFrames - HTMLReport.maxFramesPerConnection
        #expect(page.contains("\"omittedFrames\":\(omitted)"))

        let count = "document.querySelector('#shown').dataset.count"
        let run = try DevTools.run([
            ["navigate": "file://\(html)"],
            ["eval": "document.querySelector('[data-total=connections] dd').textContent"],   // 1
            ["eval": count],                                                               // 2
            ["eval": "document.querySelectorAll('#rows .row').length"],                    // 3
            ["eval": "[...document.querySelectorAll('.chip')].map((c) => c.dataset.category + '=' + c.dataset.count).sort().join(' ')"],  // 4
            ["eval": "document.body.dataset.readyMs + ' ' + document.body.dataset.requests"],  // 5
            ["eval": HTMLReportTests.open(printed.count)],                                 // 6
            ["eval": "document.querySelector('#frames').dataset.count"],                   // 7
            ["eval": "document.querySelectorAll('#frames .frow:not(.head)').length"],      // 8
            ["eval": "document.querySelector('#timeline').dataset.mode"],                  // 9
            ["eval": "document.querySelector('#detail .legend').textContent"],             // 10
        ])
        #expect(run.errors.isEmpty, "the page's errors: \(run.errors)")
        let results = run.results
        try #require(results.count == 11)
        #expect(results[1] as? String == printed.count.formatted(.number.locale(Locale(identifier: "en_US"))))
        #expect(results[2] as? String == String(printed.count))
        // Virtualised: a screenful of rows is in the page, not thousands.
        let rows = results[3] as? Int ?? 0
        #expect(rows > 10 && rows < 100, "\(rows) rows in the page")
        #expect(results[4] as? String == categories.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: " "))
        let ready = (results[5] as? String ?? "").split(separator: " ")
        #expect(ready.last == "0", "no request was made")
        print("large report (\(printed.count) connections, one of \(longFrames) frames): overview interactive after \(ready.first ?? "?") ms")
        #expect(results[6] as? String == "connection")
        #expect(results[7] as? String == String(HTMLReport.maxFramesPerConnection), "the frames kept: the first and last 10,000")
        let frameRows = results[8] as? Int ?? 0
        #expect(frameRows > 5 && frameRows < 100, "\(frameRows) frame rows in the page")
        #expect(results[9] as? String == "downsampled")
        let legend = results[10] as? String ?? ""
        #expect(legend.contains("\(omitted.formatted(.number.locale(Locale(identifier: "en_US")))) frames in the middle not kept (bound 20,000)"), "\(legend)")
    }
}
