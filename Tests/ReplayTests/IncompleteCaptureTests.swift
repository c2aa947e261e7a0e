import Diagnosis
import Testing
import WebSocketWire

/// Captures that start late or lose packets (Fixtures/captures/MANIFEST.md, "Derived captures").
@Suite struct IncompleteCaptureTests {
    @Test func connectionJoinedMidStreamIsDecodedWhenThePortIsNamed() throws {
        let port = replayFixture("normal-1000.pcap").only.server.port
        let facts = replay(fixturePath("mid-stream.pcap"), webSocketPorts: [port]).only
        #expect(facts.joinedMidStream && facts.incomplete)
        #expect(facts.handshake == nil)
        #expect(facts.fromClient.messages == 4 && facts.fromServer.messages == 4)
        #expect(facts.firstClose?.code == 1000 && facts.firstClose?.reason == "bye")
        #expect(facts.violations.isEmpty)
    }

    @Test func withoutThePortAMidStreamConnectionIsNotGuessed() {
        let result = replayFixture("mid-stream.pcap")
        #expect(result.connections.isEmpty)
        #expect(result.otherConnections == 1)
    }

    @Test func compressedTrafficJoinedMidStreamIsCountedButNotChecked() throws {
        let port = replayFixture("deflate.pcap").only.server.port
        let facts = replay(fixturePath("deflate-mid-stream.pcap"), webSocketPorts: [port]).only
        #expect(facts.violations.isEmpty, "\(facts.violations)")
        #expect(facts.notices.map(\.kind) == [.compressionContextUnknown, .compressionContextUnknown])
        #expect(facts.fromClient.messages == 6)
        #expect(facts.firstClose?.reason == "done")
    }

    @Test func lostSegmentBecomesAnExactGapAndDecodingResumes() {
        let result = replayFixture("lost-segment.pcap")
        let facts = result.only
        #expect(result.statistics.gaps == 1)
        #expect(facts.missingClientBytes == 25)
        #expect(facts.incomplete)
        #expect(facts.notices.map(\.kind) == [.gap])
        #expect(facts.violations.isEmpty)
        #expect(facts.fromClient.messages == 3)  // one of four was lost
        #expect(facts.firstClose?.code == 1000 && facts.echoClose?.code == 1000)
    }
}

@Suite struct GuessedSidesTests {
    @Test func sidesGuessedWronglyFromPortsAreCorrectedByTheHTTPRequest() {
        let reference = replayFixture("normal-1000.pcap").only
        let facts = replayFixture("no-syn.pcap").only
        #expect(facts.client == reference.client && facts.server == reference.server)
        #expect(!facts.sidesGuessed && !facts.sawTCPOpen)
        #expect(facts.handshake?.target == "/chat")
        #expect(facts.closeInitiator == .client && facts.firstClose?.reason == "bye")
        #expect(facts.violations.isEmpty)
    }
}
