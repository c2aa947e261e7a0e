import Capture
import CaptureAnalysis
import Diagnosis
import Testing
import WebSocketWire

/// Endings read as a sequence, each recorded from a raw peer against real websockets and
/// aiohttp peers (Fixtures/captures/MANIFEST.md, "Ending scenarios"): the category, the side
/// blamed, the frame cited and the fix.
@Suite struct EndingDiagnosisTests {
    private func evidence(_ diagnosis: ConnectionDiagnosis, _ fact: String) -> FactValue? {
        diagnosis.evidence.first { $0.fact == fact }?.value
    }

    @Test func anIllegalCloseCodeAnsweredWith1002IsTheClosersViolation() {
        let connections = replayFixture("ending-illegal-close-codes.pcap").connections
        // websockets: 0, 999, 1004, 1005, 1006, 1016, 5000, 65535; aiohttp: 1005, 5000.
        #expect(connections.count == 10)
        for connection in connections.prefix(9) {
            let d = connection.diagnosis
            #expect(d.id == "illegal-close-answered-with-error")
            #expect(d.category == "protocol-violation")
            #expect(evidence(d, "close.initiator") == .string("client"))
            #expect(evidence(d, "close.violation.kind") == .string("close-code-not-allowed"))
            #expect(evidence(d, "close.violation.rfc") == .string("RFC 6455 §7.4.1"))
            #expect(evidence(d, "close.violation.frame") == .int(1))
            #expect(evidence(d, "close.echo_code") == .int(1002))
            #expect(d.summary.hasPrefix("The client's own close frame broke RFC 6455 §7.4.1: close-code-not-allowed in frame 1 at byte "))
            #expect(d.fix.hasPrefix("Fix the client's close frame"))
        }
        let codes = connections.compactMap { $0.facts.firstClose?.code }
        #expect(codes == [0, 999, 1004, 1005, 1006, 1016, 5000, 65535, 1005, 5000])
        // aiohttp 3.14.5 lets 5000 pass: still the client's violation, not a normal close.
        let accepted = connections[9].diagnosis
        #expect(accepted.id == "illegal-close-accepted")
        #expect(accepted.category == "protocol-violation")
        #expect(accepted.summary.contains("The server let it pass and answered 1000"))
    }

    @Test func aMalformedCloseFrameIsBlamedOnItsSender() {
        let connections = replayFixture("ending-malformed-close.pcap").connections
        #expect(connections.count == 6)
        // websockets then aiohttp: a 1-byte payload, 132 bytes, a reason that is not UTF-8.
        let kinds: [String] = ["close-payload-one-byte", "control-frame-too-long", "close-reason-not-utf8"]
        for (index, connection) in connections.enumerated() {
            let d = connection.diagnosis
            let kind = kinds[index % 3]
            let cited = kind == "close-reason-not-utf8" ? evidence(d, "close.violation_kinds") : evidence(d, "close.violation.kind")
            #expect(cited == (kind == "close-reason-not-utf8" ? .list([kind]) : .string(kind)), "connection \(index)")
            #expect(evidence(d, "close.violation.frame") == .int(1))
            #expect(evidence(d, "close.initiator") == .string("client"))
            if kind == "close-reason-not-utf8" {
                #expect(d.id == "illegal-close-reason-answered-1007")
                #expect(d.category == "non-utf8-text")
                #expect(d.fix == "Make the client send close reasons as UTF-8 text (or none at all).")
            } else {
                #expect(d.id == "illegal-close-answered-with-error")
                #expect(d.category == "protocol-violation")
            }
        }
        #expect(evidence(connections[1].diagnosis, "close.violation.rfc") == .string("RFC 6455 §5.5"))
    }

    @Test func anOversizedServerCloseIsTheServersFaultAnsweredOrNot() {
        let connections = replayFixture("ending-server-close-too-long.pcap").connections
        #expect(connections.count == 3)
        // A websockets client and an aiohttp client each answer 1002.
        for connection in connections.prefix(2) {
            #expect(connection.diagnosis.id == "illegal-close-answered-with-error")
            #expect(evidence(connection.diagnosis, "close.initiator") == .string("server"))
            #expect(evidence(connection.diagnosis, "close.violation.kind") == .string("control-frame-too-long"))
        }
        // Reset by the server before the client could answer: not the client's silence.
        let unanswered = connections[2].diagnosis
        #expect(unanswered.id == "illegal-close-unanswered")
        #expect(unanswered.category == "protocol-violation")
        #expect(evidence(unanswered, "close.violation.frame") == .int(1))
        #expect(unanswered.summary.contains("the fault is the close frame, not the silence"))
        #expect(unanswered.fix.hasPrefix("Fix the server's close frame (control-frame-too-long, RFC 6455 §5.5)"))
        #expect(connections.allSatisfy { $0.diagnosis.id != "close-not-echoed" })
    }

    /// The same endings from the server's side: a raw server against a websockets client,
    /// then an aiohttp client, for each bad close (and data after a close). The server is blamed.
    @Test func aServersIllegalCloseOrDataAfterItIsTheServersViolation() {
        let connections = replayFixture("ending-server-malformed-close.pcap").connections
        #expect(connections.count == 8)
        let expected: [(id: String, category: String, kind: String?, echo: Int64)] = [
            ("illegal-close-answered-with-error", "protocol-violation", "close-code-not-allowed", 1002),
            ("illegal-close-answered-with-error", "protocol-violation", "close-payload-one-byte", 1002),
            ("illegal-close-reason-answered-1007", "non-utf8-text", nil, 1007),
            ("data-after-close", "protocol-violation", nil, 1000),
        ]
        for (index, connection) in connections.enumerated() {
            let d = connection.diagnosis, want = expected[index / 2]
            #expect(d.id == want.id && d.category == want.category, "connection \(index): \(d.id)")
            #expect(evidence(d, "close.initiator") == .string("server"), "connection \(index)")
            #expect(evidence(d, "close.echo_code") == .int(want.echo), "connection \(index)")
            if let kind = want.kind {
                #expect(evidence(d, "close.violation.kind") == .string(kind), "connection \(index)")
                #expect(evidence(d, "close.violation.frame") == .int(1))
                #expect(d.fix.hasPrefix("Fix the server's close frame (\(kind)"), "connection \(index): \(d.fix)")
            }
        }
        #expect(connections[4].diagnosis.fix == "Make the server send close reasons as UTF-8 text (or none at all).")
        let late = connections[6].diagnosis
        #expect(evidence(late, "closer.frame_after_close.frame") == .int(2))
        #expect(late.summary.hasPrefix("The server closed with Normal Closure and then sent more: text frame sent after this side's close frame (frame 2 at byte "))
        #expect(late.fix.hasPrefix("Make the server finish sending before it closes"))
    }

    @Test func framesAfterTheCloseAreTheClosersAndWereLost() {
        for connection in replayFixture("ending-data-after-close.pcap").connections {
            let d = connection.diagnosis
            #expect(d.id == "data-after-close")
            #expect(d.category == "protocol-violation")
            #expect(evidence(d, "closer.frame_after_close.frame") == .int(2))
            #expect(d.summary.hasPrefix("The client closed with Normal Closure and then sent more: text frame sent after this side's close frame (frame 2 at byte "))
            #expect(d.fix.hasPrefix("Make the client finish sending before it closes"))
        }
    }

    @Test func aBadFrameJustBeforeACloseIsWhatThe1002Answers() {
        let connections = replayFixture("ending-violation-then-close.pcap").connections
        #expect(connections.map(\.diagnosis.id) == ["closer-violation-answered-with-error", "closer-violation-answered-with-error"])
        #expect(connections.map { evidence($0.diagnosis, "closer.violation.kind") } == [.string("client-frame-unmasked"), .string("reserved-opcode")])
        #expect(connections.allSatisfy { evidence($0.diagnosis, "closer.violation.frame") == .int(1) && $0.diagnosis.category == "protocol-violation" })
    }

    @Test func aFailFastServerIsMatchedByteByByte() {
        for connection in replayFixture("ending-reserved-opcode-byte-by-byte.pcap").connections {
            let d = connection.diagnosis
            #expect(d.id == "protocol-violation-seen")
            #expect(evidence(d, "peer.violation.kind") == .string("reserved-opcode"))
            #expect(evidence(d, "peer.violation.frame") == .int(1))
            #expect(d.fix.hasPrefix("Fix the client's framing (reserved-opcode, RFC 6455 §5.2)"))
            // What the two bytes could not show is said, not guessed.
            #expect(connection.facts.notices.contains { $0.kind == .truncatedFrame && $0.detail.contains("2 of 6 bytes") })
        }
    }

    @Test func rsv1IsAProxyOnlyWhereTheEvidenceSaysSo() {
        let connections = replayFixture("ending-reserved-bits.pcap").connections
        #expect(connections.count == 4)
        // No offer, offer declined, RSV1+RSV2 (websockets), no offer (aiohttp): the client's own violation.
        #expect(connections.allSatisfy { $0.diagnosis.id == "protocol-violation-seen" && $0.diagnosis.category == "protocol-violation" })
        #expect(connections.map { evidence($0.diagnosis, "peer.violation.kind") }
            == [.string("rsv1-without-extension"), .string("rsv1-without-extension"), .string("reserved-bits-set"), .string("rsv1-without-extension")])
        // The recorded stripped header still points at the intermediary.
        let stripped = replayFixture("diag-proxy-strips-extension.pcap").connections[0].diagnosis
        #expect(stripped.id == "extension-header-stripped")
        #expect(evidence(stripped, "rsv1_without_extension.inflates") == .bool(true))
    }

    @Test func garbageAfterTheUpgradeIsNotAStrippedExtension() {
        for connection in replayFixture("ending-garbage-after-upgrade.pcap").connections {
            let d = connection.diagnosis
            #expect(d.id == "protocol-violation-seen")
            #expect(d.category == "protocol-violation")
            #expect(evidence(d, "peer.violation.kind") == .string("reserved-opcode"))
            #expect(evidence(d, "peer.violation.frame") == .int(0))
        }
    }

    /// A raw server's frame violation answered by a real client: the client's close code and
    /// reason, the server blamed for `kind` in its frame `frame`, the server's framing to fix.
    private func expectClientAnswered(_ connection: FinishedConnection, code: UInt16, reason: String,
                                      kind: String, frame: Int64, _ label: String) {
        let d = connection.diagnosis
        #expect(d.id == "protocol-violation-seen" && d.category == "protocol-violation", "\(label): \(d.id)")
        #expect(connection.facts.clientClose?.code == code && connection.facts.clientClose?.reason == reason, "\(label)")
        #expect(evidence(d, "close.initiator") == .string("client") && evidence(d, "close.receiver") == .string("server"), "\(label)")
        #expect(evidence(d, "peer.violation.kind") == .string(kind), "\(label)")
        #expect(evidence(d, "peer.violation.frame") == .int(frame), "\(label)")
        #expect(d.summary.contains("because the server broke RFC 6455 §5.2: \(kind) in frame \(frame) at byte "), "\(label): \(d.summary)")
        #expect(d.fix.hasPrefix("Fix the server's framing (\(kind), RFC 6455 §5.2)"), "\(label): \(d.fix)")
        #expect(connection.facts.violations.allSatisfy { $0.side == .server }, "\(label)")
    }

    @Test func aFailFastClientAgainstAByteByByteServerIsMatched() {
        let connections = replayFixture("ending-server-reserved-opcode-byte-by-byte.pcap").connections
        #expect(connections.count == 2)
        // websockets, then aiohttp: each client fails after the second byte of 17, without waiting for the frame.
        for (connection, reason) in zip(connections, ["invalid opcode", ""]) {
            expectClientAnswered(connection, code: 1002, reason: reason, kind: "reserved-opcode", frame: 1, "\(reason)")
            #expect(connection.facts.notices.contains { $0.kind == .truncatedFrame && $0.detail.contains("15 bytes before the end of frame 1") })
        }
    }

    @Test func aServersReservedBitsAreItsOwnViolationNotAStrippedHeader() {
        let connections = replayFixture("ending-server-reserved-bits.pcap").connections
        // RSV1 (websockets, aiohttp), RSV1+RSV2 (websockets), RSV1+RSV3 (aiohttp); no client offered an extension.
        #expect(connections.count == 4)
        let cases: [(kind: String, reason: String)] = [
            ("rsv1-without-extension", "reserved bits must be 0"), ("rsv1-without-extension", ""),
            ("reserved-bits-set", "reserved bits must be 0"), ("reserved-bits-set", ""),
        ]
        for (index, (connection, want)) in zip(connections, cases).enumerated() {
            expectClientAnswered(connection, code: 1002, reason: want.reason, kind: want.kind, frame: 1, "connection \(index)")
        }
        #expect(connections[2].diagnosis.summary.hasSuffix("(RSV2 set; no negotiated extension defines it)."))
        #expect(connections[3].diagnosis.summary.hasSuffix("(RSV3 set; no negotiated extension defines it)."))
    }

    @Test func aServersBadFrameJustBeforeItsCloseIsWhatTheClientAnswers() {
        let connections = replayFixture("ending-server-violation-then-close.pcap").connections
        // A masked text frame, then opcode 0x3, each before a close 1000 "bye"; websockets, then aiohttp.
        #expect(connections.count == 4)
        for (index, connection) in connections.enumerated() {
            let kind = index < 2 ? "server-frame-masked" : "reserved-opcode"
            #expect(connection.facts.violations(by: .server).map(\.kind.rawValue) == [kind], "connection \(index)")
            #expect(connection.facts.violations(by: .server).first?.frameIndex == 1)
            #expect(connection.facts.serverClose?.code == 1000 && connection.facts.serverClose?.frameIndex == 2)
        }
        // aiohttp 3.14.5 does not check that server frames are unmasked: it answers the close with
        // 1000. The server still broke the protocol: never "a normal close, nothing to fix".
        #expect(connections[1].facts.clientClose?.code == 1000)
        let accepted = connections[1].diagnosis
        #expect(accepted.id == "closer-violation-accepted" && accepted.category == "protocol-violation", "\(accepted.id)")
        #expect(evidence(accepted, "close.initiator") == .string("server"))
        #expect(evidence(accepted, "closer.violation.frame") == .int(1))
        #expect(accepted.summary.hasPrefix("The server broke RFC 6455 §5.1 just before its own close (server-frame-masked in frame 1"), "\(accepted.summary)")
        #expect(accepted.summary.contains("The client let it pass and answered 1000; a stricter peer answers 1002."), "\(accepted.summary)")
        #expect(accepted.fix.hasPrefix("Fix the server's framing (server-frame-masked, RFC 6455 §5.1)"), "\(accepted.fix)")
        for (index, reason) in [(0, "incorrect masking"), (2, "invalid opcode"), (3, "")] {
            let connection = connections[index], d = connection.diagnosis
            let rfc = index == 0 ? "RFC 6455 §5.1" : "RFC 6455 §5.2"
            #expect(connection.facts.clientClose?.code == 1002 && connection.facts.clientClose?.reason == reason)
            #expect(d.id == "closer-violation-answered-with-error" && d.category == "protocol-violation", "connection \(index): \(d.id)")
            #expect(evidence(d, "close.initiator") == .string("server"))
            #expect(evidence(d, "close.echo_code") == .int(1002))
            #expect(evidence(d, "closer.violation.frame") == .int(1))
            #expect(d.summary.hasPrefix("The server broke \(rfc) around its own close"), "connection \(index): \(d.summary)")
            #expect(d.fix.hasPrefix("Fix the server's framing (\(index == 0 ? "server-frame-masked" : "reserved-opcode"), \(rfc))"))
        }
    }

    @Test func aServersGarbageAfterTheUpgradeIsTheServersViolation() {
        let connections = replayFixture("ending-server-garbage-after-upgrade.pcap").connections
        #expect(connections.count == 2)
        for (connection, reason) in zip(connections, ["invalid opcode", ""]) {
            expectClientAnswered(connection, code: 1002, reason: reason, kind: "reserved-opcode", frame: 0, "\(reason)")
        }
    }

    @Test func every1002FrameBeingValidGivesBothExplanations() {
        let d = replayFixture("diag-proxy-corrupts-1002.pcap").connections[0].diagnosis
        #expect(d.id == "protocol-error-frames-valid-here")
        #expect(d.category == "protocol-error-unexplained")
        #expect(d.summary.contains("the server's own parser rejected valid frames, or an intermediary between wsdoctor and the server changed them"))
        #expect(d.fix.hasPrefix("Capture on the server's side of every intermediary"))
    }

    @Test func aRequestHeadOverTheLimitStillLeavesAWorkingSession() {
        let connection = replayFixture("ending-large-request-head.pcap").connections[0]
        #expect(connection.facts.handshake?.upgraded == true)
        #expect(connection.facts.handshake?.requestHeadRead == false)
        #expect(connection.facts.notices.map(\.kind) == [.headTooLarge])
        #expect(connection.diagnosis.id == "normal-close")
    }

    @Test func whatCouldNotBeAnalysedBlamesNoOne() {
        let d = replayFixture("ending-undecodable-then-reset.pcap").connections[0].diagnosis
        #expect(d.id == "analysis-incomplete")
        #expect(d.category == "not-analysed")
        #expect(d.summary.hasPrefix("wsdoctor could not analyse all of this connection (the client's stream from byte "))
        #expect(d.summary.contains("it cannot say how the connection ended or who ended it"))
    }

    @Test func aDeflateBombReportsTheInflatedSizeReached() throws {
        var configuration = AnalyzerConfiguration()
        configuration.decoder.maxInflatedMessageSize = 65_536
        var connections: [FinishedConnection] = []
        let session = ReplaySession(configuration: configuration, rules: .defaults()) { connections.append($0) }
        _ = session.replay(file: fixturePath("diag-too-big-deflate-1009.pcap"))
        let facts = try #require(connections.first?.facts)
        #expect(facts.notices.contains { $0.kind == .inflatedSizeLimit })
        // The 126 bytes on the wire inflate past the 64 KiB bound: the size reached is reported.
        #expect(facts.fromClient.largestMessage > 65_536)
        #expect(facts.fromClient.messageBytes > 65_536)
    }
}
