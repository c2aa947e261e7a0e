import Diagnosis
import Testing
import WebSocketWire
import WireTestSupport

@Suite struct ConnectionAnalyzerTests {
    static let key = "dGhlIHNhbXBsZSBub25jZQ=="
    static let request = Array("GET /live?room=7&token=abc HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n\r\n".utf8)
    static let switching = Array("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n".utf8)

    /// An analyzer that has seen the upgrade at t = 0 s.
    static func upgraded(configuration: AnalyzerConfiguration = AnalyzerConfiguration()) -> ConnectionAnalyzer {
        let facts = ConnectionFacts(id: 0, client: Endpoint(address: "10.0.0.1", port: 50000),
                                    server: Endpoint(address: "10.0.0.2", port: 443), opened: at(0), sawTCPOpen: true, sidesGuessed: false)
        var analyzer = ConnectionAnalyzer(facts: facts, configuration: configuration)
        analyzer.feed(request, from: .client, at: 0)
        analyzer.feed(switching, from: .server, at: 0)
        return analyzer
    }

    @Test func handshakeFactsKeepTheTargetAndStatus() {
        let facts = Self.upgraded().facts
        #expect(facts.handshake?.target == "/live?room=7&token=abc")
        #expect(facts.handshake?.path == "/live")
        #expect(facts.handshake?.status == 101 && facts.handshake?.upgraded == true)
        #expect(facts.carriesWebSocket)
    }

    @Test func closeInitiatorIsWhoeverClosedFirstInTime() {
        var analyzer = Self.upgraded()
        analyzer.feed(FrameBytes.server(0x8, FrameBytes.closePayload(1013, "busy")), from: .server, at: 5)
        analyzer.feed(FrameBytes.client(0x8, FrameBytes.closePayload(1013)), from: .client, at: 5.2)
        analyzer.finished(from: .server, at: at(5.3))
        analyzer.finished(from: .client, at: at(5.4))
        let facts = analyzer.facts
        #expect(facts.closeInitiator == .server)
        #expect(facts.firstClose?.code == 1013 && facts.firstClose?.reason == "busy")
        #expect(facts.echoClose?.code == 1013)
        #expect(facts.closeHandshakeComplete)
        #expect(facts.transport.firstEnd == .fin && facts.transport.firstEndBy == .server)
        #expect(facts.closed == at(5.4))
        #expect(analyzer.isFinished)
    }

    // MARK: The ending as facts

    private func values(_ analyzer: ConnectionAnalyzer) -> [String: FactValue] {
        FactCatalog.values(for: FactContext(facts: analyzer.facts))
    }

    @Test func anIllegalCloseAndItsRefusalAreFacts() {
        var analyzer = Self.upgraded()
        analyzer.feed(FrameBytes.client(0x1, Array("hi".utf8)), from: .client, at: 1)
        analyzer.feed(FrameBytes.client(0x8, FrameBytes.closePayload(1005, "bye")), from: .client, at: 2)
        analyzer.feed(FrameBytes.server(0x8, FrameBytes.closePayload(1002, "invalid status code")), from: .server, at: 2.25)
        analyzer.finished(from: .server, at: at(2.3))
        analyzer.finished(from: .client, at: at(2.4))
        let facts = values(analyzer)
        #expect(facts["close.valid"] == .bool(false))
        #expect(facts["close.violation_kinds"] == .list(["close-code-not-allowed"]))
        #expect(facts["close.violation.frame"] == .int(1))
        #expect(facts["close.violation.rfc"] == .string("RFC 6455 §7.4.1"))
        #expect(facts["close.echo_code"] == .int(1002) && facts["close.echo_reason"] == .string("invalid status code"))
        #expect(facts["close.echo_is_error"] == .bool(true))
        #expect(facts["close.echo_delay"] == .number(0.25))
        #expect(facts["closer.frames_after_close"] == .int(0) && facts["closer.violations_before_answer"] == .int(0))
        #expect(facts["tcp.closer_end"] == .string("fin") && facts["tcp.receiver_end"] == .string("fin"))
        #expect(facts["analysis.complete"] == .bool(true))
    }

    @Test func framesAroundTheCloseAreFactsOfTheirSender() {
        var analyzer = Self.upgraded()
        analyzer.feed(FrameBytes.server(0x1, Array("x".utf8)) + [0x8F, 0x00], from: .server, at: 1)  // then a reserved opcode
        analyzer.feed(FrameBytes.client(0x8, FrameBytes.closePayload(1000)) + FrameBytes.client(0x1, Array("late".utf8)), from: .client, at: 2)
        analyzer.feed(FrameBytes.server(0x8, FrameBytes.closePayload(1000)), from: .server, at: 3)
        analyzer.reset(from: .client, at: at(4))
        let facts = values(analyzer)
        #expect(facts["close.valid"] == .bool(true))
        #expect(facts["peer.violations_before_close"] == .int(1))
        #expect(facts["closer.frames_after_close"] == .int(1))
        #expect(facts["closer.frame_after_close.frame"] == .int(1))
        #expect(facts["closer.violations_before_answer"] == .int(1))
        #expect(facts["closer.violation.kind"] == .string("frame-after-close"))
        // The receiver's own close came after its reserved-opcode frame: not data after close.
        #expect(facts["peer.frames_after_close"] == .int(0))
        #expect(facts["tcp.closer_end"] == .string("rst") && facts["tcp.receiver_end"] == .string("none"))
    }

    @Test func aPongAnsweringAPingThatCrossedTheCloseIsANormalClose() {
        // The soak's Python websockets clients did this: the server's keepalive ping crossed
        // the client's close 1000, and the client answered it as RFC 6455 §5.5.2 says.
        var analyzer = Self.upgraded()
        analyzer.feed(FrameBytes.client(0x8, FrameBytes.closePayload(1000)), from: .client, at: 1)
        analyzer.feed(FrameBytes.server(0x9, Array("ka".utf8)), from: .server, at: 1.01)
        analyzer.feed(FrameBytes.client(0xA, Array("ka".utf8)), from: .client, at: 1.02)
        analyzer.feed(FrameBytes.server(0x8, FrameBytes.closePayload(1000)), from: .server, at: 1.03)
        analyzer.finished(from: .server, at: at(1.04))
        analyzer.finished(from: .client, at: at(1.05))
        #expect(values(analyzer)["closer.frames_after_close"] == .int(0))
        #expect(RuleSet.defaults().diagnose(FactContext(facts: analyzer.facts)).id == "normal-close")
    }

    @Test func anOversizedRequestHeadLeavesTheHandshakeKnownByItsAnswer() {
        var configuration = AnalyzerConfiguration()
        configuration.decoder.maxHeadSize = 256
        let facts = ConnectionFacts(id: 0, client: Endpoint(address: "10.0.0.1", port: 50000),
                                    server: Endpoint(address: "10.0.0.2", port: 443), opened: at(0), sawTCPOpen: true, sidesGuessed: false)
        var analyzer = ConnectionAnalyzer(facts: facts, configuration: configuration)
        let big = Array(("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: \(Self.key)\r\n"
            + "Sec-WebSocket-Version: 13\r\nCookie: \(String(repeating: "c", count: 400))\r\n\r\n").utf8)
        analyzer.feed(big, from: .client, at: 0)
        analyzer.feed(Self.switching, from: .server, at: 0.5)
        analyzer.feed(FrameBytes.client(0x1, Array("hi".utf8)), from: .client, at: 1)
        let handshake = analyzer.facts.handshake
        #expect(handshake?.upgraded == true && handshake?.status == 101 && handshake?.requestHeadRead == false)
        #expect(handshake?.answeredAt == at(0.5) && handshake?.responseHeaders?["Upgrade"] == "websocket")
        #expect(analyzer.facts.fromClient.messages == 1)
        #expect(values(analyzer)["handshake.deflate_offered"] == nil)
    }

    @Test func unansweredCloseIsNotAHandshake() {
        var analyzer = Self.upgraded()
        analyzer.feed(FrameBytes.client(0x8, FrameBytes.closePayload(1000)), from: .client, at: 1)
        analyzer.reset(from: .server, at: at(2))
        let facts = analyzer.facts
        #expect(facts.closeInitiator == .client && facts.echoClose == nil)
        #expect(!facts.closeHandshakeComplete)
        #expect(facts.transport.end == .rst && facts.transport.resetBy == .server)
    }

    @Test func pongsAnswerPingsByPayload() {
        var analyzer = Self.upgraded()
        analyzer.feed(FrameBytes.client(0x9, Array("a".utf8)), from: .client, at: 1)
        analyzer.feed(FrameBytes.client(0x9, Array("b".utf8)), from: .client, at: 2)
        analyzer.feed(FrameBytes.client(0x9, Array("c".utf8)), from: .client, at: 3)
        analyzer.feed(FrameBytes.server(0xA, Array("b".utf8)), from: .server, at: 3.5)  // answers a and b
        analyzer.feed(FrameBytes.server(0xA, Array("zzz".utf8)), from: .server, at: 4)  // unsolicited
        analyzer.sourceEnded(at: at(10))
        let client = analyzer.facts.fromClient
        #expect(client.pings == 3)
        #expect(client.pingsAnswered == 1)
        #expect(client.unansweredPings == 1)
        #expect(client.oldestUnansweredPingAt == at(3))
        #expect(analyzer.facts.transport.end == .captureEnd)
    }

    @Test func messageTimesAndSizesAreKept() {
        var analyzer = Self.upgraded()
        for second in 1...5 {
            analyzer.feed(FrameBytes.client(0x2, [UInt8](repeating: 1, count: second * 10)), from: .client, at: Double(second))
        }
        let client = analyzer.facts.fromClient
        #expect(client.messages == 5 && client.binaryMessages == 5)
        #expect(client.largestMessage == 50)
        #expect(client.messageBytes == 150)
        #expect(client.firstMessageAt == at(1) && client.lastMessageAt == at(5))
        #expect(client.lastMessage?.index == 4)
        #expect(client.recentMessageTimes.count(overLast: 2.5, endingAt: at(5)) == 3)
        #expect(client.recentMessageTimes.rate(overLast: 10, endingAt: at(5)) == 0.5)
    }

    @Test func violationsAreBoundedAndCounted() {
        var analyzer = Self.upgraded(configuration: AnalyzerConfiguration(maxViolations: 2))
        for second in 1...5 {
            analyzer.feed(FrameBytes.server(0x1, Array("unmasked".utf8)), from: .client, at: Double(second))
        }
        #expect(analyzer.facts.violations.count == 2)
        #expect(analyzer.facts.violationsNotKept == 3)
        #expect(analyzer.facts.violations(by: .client).count == 2)
    }

    /// Bound 8: the request, the response and message 1 (frame and message) as they came,
    /// then the latest four entries; the 14 between are counted.
    @Test func timelineKeepsTheFirstAndTheLatestEntries() {
        var analyzer = Self.upgraded(configuration: AnalyzerConfiguration(recordTimeline: true, maxTimelineEntries: 8))
        for second in 1...10 {
            analyzer.feed(FrameBytes.client(0x1, Array("m".utf8)), from: .client, at: Double(second))
        }
        #expect(analyzer.timeline.map(\.at) == [0, 0, 1, 1, 9, 9, 10, 10].map(at))
        #expect(analyzer.timelineEntriesNotKept == 14)
        #expect(analyzer.timelineGap == 4)
        analyzer.feed(FrameBytes.client(0x8, FrameBytes.closePayload(1000)), from: .client, at: 11)
        #expect(analyzer.timeline.map(\.at) == [0, 0, 1, 1, 10, 10, 11, 11].map(at))
        guard case .close(let close) = analyzer.timeline.last?.event else {
            Issue.record("the last entry kept is not the close: \(String(describing: analyzer.timeline.last))")
            return
        }
        #expect(close.code == 1000)
        #expect(analyzer.timelineEntriesNotKept == 16)
    }

    @Test func drainingTheTimelineHandsOverEveryEntryOnce() {
        var analyzer = Self.upgraded(configuration: AnalyzerConfiguration(recordTimeline: true, maxTimelineEntries: 8))
        #expect(analyzer.drainTimeline().count == 2)
        for second in 1...3 {
            analyzer.feed(FrameBytes.client(0x1, Array("m".utf8)), from: .client, at: Double(second))
            #expect(analyzer.drainTimeline().map(\.at) == [at(Double(second)), at(Double(second))])
        }
        #expect(analyzer.timeline.isEmpty)
        #expect(analyzer.timelineEntriesNotKept == 0 && analyzer.timelineGap == nil)
    }

    @Test func timelineCanKeepOnlyTheFirstEntries() {
        let configuration = AnalyzerConfiguration(recordTimeline: true, maxTimelineEntries: 4, keepsLatestTimelineEntries: false)
        var analyzer = Self.upgraded(configuration: configuration)
        for second in 1...5 {
            analyzer.feed(FrameBytes.client(0x1, Array("m".utf8)), from: .client, at: Double(second))
        }
        #expect(analyzer.timeline.map(\.at) == [0, 0, 1, 1].map(at))
        #expect(analyzer.timelineEntriesNotKept == 8)
        #expect(analyzer.timelineGap == 4)
    }

    @Test func lostBytesMakeTheConnectionIncomplete() {
        var analyzer = Self.upgraded()
        analyzer.gap(from: .server, missing: 100, at: at(1))
        #expect(analyzer.facts.missingServerBytes == 100)
        #expect(analyzer.facts.incomplete)
    }
}

private func at(_ seconds: Double) -> Timestamp {
    Timestamp(nanoseconds: Int64(seconds * 1e9))
}

extension ConnectionAnalyzer {
    mutating func feed(_ bytes: [UInt8], from side: Side, at seconds: Double) {
        bytes.withUnsafeBytes { received($0, from: side, at: at(seconds)) }
    }
}
