import Capture
import CaptureAnalysis
import Diagnosis
import Testing
import WebSocketWire

/// What `replay` establishes for each capture recorded from real peers (see Fixtures/captures/MANIFEST.md).
@Suite struct ReplayFixtureTests {
    @Test func normalCloseByTheClient() {
        let facts = replayFixture("normal-1000.pcap").only
        #expect(facts.handshake?.target == "/chat")
        #expect(facts.handshake?.status == 101)
        #expect(facts.closeInitiator == .client)
        #expect(facts.firstClose?.code == 1000 && facts.firstClose?.reason == "bye")
        #expect(facts.echoClose?.code == 1000)
        #expect(facts.closeHandshakeComplete)
        #expect(facts.transport.end == .fin && facts.transport.firstEndBy == .server)
        #expect(facts.fromClient.textMessages == 2 && facts.fromClient.binaryMessages == 2)
        #expect(facts.fromServer.textMessages == 2 && facts.fromServer.binaryMessages == 2)
        #expect(facts.violations.isEmpty)
        #expect(!facts.incomplete)
    }

    @Test(arguments: ["normal-1000-nanosecond.pcap", "normal-1000-sll2.pcap", "normal-1000.pcapng"])
    func everyCaptureFormatGivesTheSameFacts(variant: String) {
        let reference = replayFixture("normal-1000.pcap").only
        let facts = replayFixture(variant).only
        #expect(facts.client == reference.client && facts.server == reference.server)
        #expect(facts.fromClient.frames == reference.fromClient.frames)
        #expect(facts.fromServer.bytes == reference.fromServer.bytes)
        #expect(facts.firstClose == nil ? reference.firstClose == nil : facts.firstClose!.code == reference.firstClose!.code)
        #expect(facts.transport.end == reference.transport.end)
        // Recorded at the same moment by separate tcpdumps: timestamps agree closely.
        #expect(abs(facts.opened.nanoseconds - reference.opened.nanoseconds) < 50_000)
    }

    @Test func nanosecondTimestampsKeepTheirPrecision() {
        let facts = replayFixture("normal-1000-nanosecond.pcap").only
        let times = [facts.opened] + [facts.fromClient.lastMessageAt, facts.fromServer.lastMessageAt, facts.closed].compactMap { $0 }
        #expect(times.contains { $0.nanoseconds % 1000 != 0 })
    }

    @Test(arguments: [
        ("going-away-1001.pcap", UInt16(1001), "server shutting down"),
        ("unsupported-data-1003.pcap", 1003, "binary not accepted"),
        ("policy-1008.pcap", 1008, "policy violation"),
        ("too-big-1009.pcap", 1009, "frame with 4096 bytes exceeds limit of 1024 bytes"),
        ("internal-error-1011.pcap", 1011, ""),
        ("restart-1012.pcap", 1012, "service restart"),
        ("try-again-1013.pcap", 1013, "try again later"),
    ])
    func serverClosesWithItsCode(file: String, code: UInt16, reason: String) {
        let facts = replayFixture(file).only
        #expect(facts.closeInitiator == .server)
        #expect(facts.firstClose?.code == code)
        #expect(facts.firstClose?.reason == reason)
        #expect(facts.echoClose?.code == code)
        #expect(facts.closeHandshakeComplete)
        #expect(facts.violations.isEmpty, "\(facts.violations)")
        #expect(facts.transport.end == .fin)
    }

    @Test func tooBigMessageIsMeasured() {
        let facts = replayFixture("too-big-1009.pcap").only
        #expect(facts.fromClient.largestMessage == 4096)
        #expect(facts.fromClient.lastMessage?.size == 4096)
    }

    @Test func unmaskedClientFrameIsBlamedOnTheClient() {
        let facts = replayFixture("protocol-error-1002.pcap").only
        #expect(facts.violations.map(\.kind) == [.clientFrameUnmasked])
        #expect(facts.violations.first?.side == .client)
        #expect(facts.violations.first?.frameIndex == 1)
        #expect(facts.violations.first?.rfc == "RFC 6455 §5.1")
        #expect(facts.closeInitiator == .server && facts.firstClose?.code == 1002)
    }

    @Test func reservedOpcodeIsBlamedOnTheClient() {
        let facts = replayFixture("reserved-opcode-1002.pcap").only
        #expect(facts.violations.map(\.kind) == [.reservedOpcode])
        #expect(facts.violations.first?.side == .client)
        #expect(facts.firstClose?.code == 1002 && facts.closeInitiator == .server)
    }

    @Test func invalidUTF8IsLocated() {
        let facts = replayFixture("invalid-utf8-1007.pcap").only
        #expect(facts.violations.map(\.kind) == [.textNotUTF8])
        let violation = facts.violations[0]
        #expect(violation.side == .client && violation.frameIndex == 1)
        #expect(violation.detail.contains("message 1") && violation.detail.contains("byte 3"))
        #expect(facts.firstClose?.code == 1007)
    }

    @Test(arguments: ["deflate.pcap", "deflate-no-context-takeover.pcap"])
    func compressedMessagesInflate(file: String) {
        let facts = replayFixture(file).only
        #expect(facts.handshake?.deflate != nil)
        #expect(facts.violations.isEmpty, "\(facts.violations)")
        #expect(facts.notices.isEmpty, "\(facts.notices)")
        #expect(facts.fromClient.messages == 7 && facts.fromServer.messages == 7)
        // Sizes are inflated sizes: the JSON text repeated four times is 304 bytes.
        #expect(facts.fromClient.largestMessage == 304 && facts.fromServer.largestMessage == 304)
        #expect(facts.firstClose?.reason == "done")
    }

    @Test func noContextTakeoverNegotiationIsRead() throws {
        let deflate = try #require(replayFixture("deflate-no-context-takeover.pcap").only.handshake?.deflate)
        #expect(deflate.serverNoContextTakeover && deflate.clientNoContextTakeover)
        #expect(deflate.serverMaxWindowBits == 10 && deflate.clientMaxWindowBits == 10)
    }

    @Test func fragmentsAndInterleavedPing() {
        let result = replayFixture("fragmented.pcap")
        let facts = result.only
        #expect(facts.violations.isEmpty)
        #expect(facts.fromClient.messages == 3 && facts.fromClient.frames == 4 + 1 + 4 + 1 + 1)
        #expect(facts.fromClient.pings == 1 && facts.fromClient.pingsAnswered == 1)
        #expect(facts.fromServer.pongs == 1)
        let messages = result.connections[0].timeline.compactMap { entry -> MessageInfo? in
            if case .message(let m) = entry.event, m.side == .client { return m } else { return nil }
        }
        #expect(messages.map(\.frameCount) == [4, 4, 1])
        #expect(messages.first?.wireSize == 48)
    }

    @Test func pingsAreMatchedToPongs() {
        let facts = replayFixture("pings.pcap").only
        #expect(facts.fromClient.pings == 3 && facts.fromClient.pingsAnswered == 3)
        #expect(facts.fromClient.unansweredPings == 0)
        #expect(facts.fromClient.pongs == 1)  // the unsolicited one
        #expect(facts.fromServer.pongs == 3)
    }

    @Test func resetWithoutCloseFrame() {
        let facts = replayFixture("tcp-reset.pcap").only
        #expect(facts.closeInitiator == nil)
        #expect(facts.transport.resetBy == .client)
        #expect(facts.transport.end == .rst)
        #expect(facts.transport.clientFinAt == nil && facts.transport.serverFinAt == nil)
    }

    @Test func stillOpenWhenTheCaptureEnded() {
        let facts = replayFixture("still-open.pcap").only
        #expect(facts.closeInitiator == nil)
        #expect(facts.transport.end == .captureEnd)
        #expect(facts.fromClient.messages == 3 && facts.fromServer.messages == 3)
    }

    @Test func rejectedUpgrades() {
        let forbidden = replayFixture("rejected-403.pcap").only
        #expect(forbidden.handshake?.status == 403)
        #expect(forbidden.handshake?.upgraded == false)
        #expect(!forbidden.carriesWebSocket)
        let tooMany = replayFixture("rejected-429.pcap").only
        #expect(tooMany.handshake?.status == 429)
        #expect(tooMany.handshake?.retryAfter == "30")
    }

    @Test func plainHTTPBeforeTheUpgradeIsWalkedOver() {
        let facts = replayFixture("http-before-upgrade.pcap").only
        #expect(facts.httpRequestsBeforeUpgrade == 2)
        #expect(facts.handshake?.target == "/ws" && facts.handshake?.upgraded == true)
        #expect(facts.fromClient.messages == 2 && facts.fromServer.messages == 2)
        #expect(facts.firstClose?.code == 1000 && facts.echoClose?.code == 1000)
        #expect(facts.violations.isEmpty)
    }

    @Test func connectionsAreReportedInTheOrderTheyOpened() {
        let result = replayFixture("two-connections.pcap")
        #expect(result.connections.map(\.facts.handshake?.target) == ["/a", "/b"])
        #expect(result.connections.map(\.facts.firstClose?.reason) == ["A done", "B done"])
        #expect(result.connections.map(\.facts.fromClient.messages) == [3, 4])
    }

    @Test(arguments: completeFixtures)
    func everyFixtureReplaysCleanly(file: String) {
        let result = replayFixture(file)
        #expect(result.error == nil)
        #expect(!result.connections.isEmpty)
        #expect(result.statistics.gaps == 0)
        // This one sends a frame length no decoder can walk over, on purpose.
        let undecodableOnPurpose = file == "ending-undecodable-then-reset.pcap"
        for connection in result.connections {
            #expect(connection.facts.undecodable.isEmpty != undecodableOnPurpose, "\(connection.facts.undecodable)")
        }
    }
}

@Suite struct ReplayOrderingTests {
    @Test func finishedConnectionsWaitingBehindAnOpenOneAreBounded() {
        var reported: [Int] = []
        let session = ReplaySession(maxFinishedWaiting: 0) { reported.append($0.facts.id) }
        _ = session.replay(file: fixturePath("diag-restart-wave-1012.pcap"))
        // Every connection is still reported once, in the order they ended rather than opened.
        #expect(reported.sorted() == [0, 1, 2, 3, 4])
        let inOpeningOrder = replayFixture("diag-restart-wave-1012.pcap").connections.map(\.facts.id)
        #expect(inOpeningOrder == [0, 1, 2, 3, 4])
    }
}
