import Diagnosis
import Foundation
import Reporting
import Testing
import WebSocketWire
import WireTestSupport

/// A connection past the timeline bound (8 entries here) keeps its first and its latest
/// entries; every report says what was left out where it was left out, and ends with the
/// connection's real close.
@Suite struct TimelineTailTests {
    static let request = Array("GET /live HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".utf8)
    static let switching = Array("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n".utf8)
    static let messages = 10

    /// Upgrade, ten client messages (one a second), then a close each way and FIN.
    static func finished() throws -> FinishedConnection {
        let facts = ConnectionFacts(id: 0, client: Endpoint(address: "10.0.0.1", port: 50000),
                                    server: Endpoint(address: "10.0.0.2", port: 80), opened: at(0), sawTCPOpen: true, sidesGuessed: false)
        var analyzer = ConnectionAnalyzer(facts: facts, configuration: AnalyzerConfiguration(recordTimeline: true, maxTimelineEntries: 8))
        func feed(_ bytes: [UInt8], _ side: Side, _ seconds: Double) {
            bytes.withUnsafeBytes { analyzer.received($0, from: side, at: at(seconds)) }
        }
        feed(request, .client, 0)
        feed(switching, .server, 0)
        for second in 1...messages { feed(FrameBytes.client(0x1, Array("m\(second)".utf8)), .client, Double(second)) }
        feed(FrameBytes.client(0x8, FrameBytes.closePayload(1000)), .client, 11)
        feed(FrameBytes.server(0x8, FrameBytes.closePayload(1000)), .server, 11.5)
        analyzer.finished(from: .server, at: at(12))
        analyzer.finished(from: .client, at: at(12))
        var diagnoser = Diagnoser(order: .ending)
        let ticket = diagnoser.opened()
        return try #require(diagnoser.ended(ticket, analyzer).first)
    }

    @Test func theTextNoteStandsBetweenTheFirstAndTheLatestFrames() throws {
        let connection = try Self.finished()
        #expect(connection.timelineGap == 4)
        let text = ConnectionText().render(connection.facts, diagnosis: connection.diagnosis, timeline: connection.timeline,
                                           timelineNotKept: connection.timelineEntriesNotKept, timelineGap: connection.timelineGap)
        let lines = text.split(separator: "\n").map(String.init)
        let note = try #require(lines.firstIndex { $0.contains("events here not kept") }, "\(text)")
        #expect(lines[note].contains("… \(connection.timelineEntriesNotKept) events here not kept"))
        let closes = lines.indices.filter { lines[$0].contains("   close 1000") }
        #expect(closes.count == 2 && closes.allSatisfy { $0 > note }, "the closes come after the note: \(text)")
        #expect(lines[..<note].contains { $0.contains("c→s frame") }, "the first frame comes before the note: \(text)")
        #expect(note == lines.count - 5, "after the note: the close frames and the closes, nothing else: \(text)")
    }

    @Test func theHTMLReportEndsWithTheRealLastFrame() throws {
        let connection = try Self.finished()
        var report = HTMLReport()
        report.add(connection)
        let page = report.document(title: "t", source: "s", generated: at(0))
        let list = try #require(page.range(of: "\"frameList\":[")?.upperBound)
        let numbers = page[list...].prefix { $0 != "]" }.split(separator: ",").compactMap { Int($0) }
        #expect(numbers.count % 6 == 0)
        let last = Array(numbers.suffix(6))
        #expect(last.count == 6 && last[1] == 1 && last[2] == 8, "the last frame kept is the server's close: \(last)")
        let totalFrames = connection.facts.fromClient.frames + connection.facts.fromServer.frames
        #expect(page.contains("\"omittedFrames\":\(totalFrames - numbers.count / 6),"), "\(page[list...].prefix(200))")
    }

    @Test func theHARLogEndsWithTheCloseAndCountsWhatItLeftOut() throws {
        let connection = try Self.finished()
        var log = HARLog()
        log.add(connection)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(log.document(version: "t").utf8)) as? [String: Any])
        let entries = try #require((document["log"] as? [String: Any])?["entries"] as? [[String: Any]])
        let messages = try #require(entries.first?["_webSocketMessages"] as? [[String: Any]])
        #expect(messages.last?["opcode"] as? Int == 8 && messages.last?["type"] as? String == "receive", "\(messages)")
        let wsdoctor = try #require(entries.first?["_wsdoctor"] as? [String: Any])
        #expect(wsdoctor["messages_not_kept"] as? Int == connection.timelineEntriesNotKept)
    }
}

private func at(_ seconds: Double) -> Timestamp {
    Timestamp(nanoseconds: Int64(seconds * 1e9))
}
