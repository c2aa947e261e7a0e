import Testing
import WebSocketWire
import WireTestSupport

@Suite struct ConnectionDecoderTests {
    static let key = "dGhlIHNhbXBsZSBub25jZQ=="
    static let accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

    static func upgradeRequest(path: String = "/chat", extensions: String? = nil) -> [UInt8] {
        var head = "GET \(path) HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        head += "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n"
        if let extensions { head += "Sec-WebSocket-Extensions: \(extensions)\r\n" }
        return Array((head + "\r\n").utf8)
    }

    static func switching(accept: String = accept, extensions: String? = nil) -> [UInt8] {
        var head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(accept)\r\n"
        if let extensions { head += "Sec-WebSocket-Extensions: \(extensions)\r\n" }
        return Array((head + "\r\n").utf8)
    }

    /// Feeds (side, bytes) pieces in order.
    static func decode(_ pieces: [(Side, [UInt8])], configuration: ConnectionDecoderConfiguration = ConnectionDecoderConfiguration()) -> [WireEvent] {
        var decoder = ConnectionDecoder(configuration: configuration)
        var events: [WireEvent] = []
        for (side, bytes) in pieces {
            bytes.withUnsafeBytes { decoder.feed($0, from: side, into: &events) }
        }
        decoder.endOfStream(from: .client, into: &events)
        decoder.endOfStream(from: .server, into: &events)
        return events
    }

    @Test func upgradeThenFramesBothWays() {
        let events = Self.decode([
            (.client, Self.upgradeRequest()),
            (.server, Self.switching()),
            (.client, FrameBytes.client(0x1, Array("hi".utf8))),
            (.server, FrameBytes.server(0x1, Array("hi".utf8))),
            (.client, FrameBytes.client(0x8, FrameBytes.closePayload(1000))),
            (.server, FrameBytes.server(0x8, FrameBytes.closePayload(1000))),
        ])
        #expect(events.violations.isEmpty)
        #expect(events.messages.map(\.side) == [.client, .server])
        #expect(events.closes.map(\.code) == [1000, 1000])
        #expect(events.contains { if case .handshake(let h) = $0 { return h.upgraded } else { return false } })
        // The client's first frame starts right after its request head.
        #expect(events.frames.first?.offset == Int64(Self.upgradeRequest().count))
    }

    @Test func clientBytesSentBeforeTheAnswerAreHeldThenDecoded() {
        // Client request and first frame in one chunk, before the server answers.
        let events = Self.decode([
            (.client, Self.upgradeRequest() + FrameBytes.client(0x1, Array("early".utf8))),
            (.server, Self.switching()),
        ])
        #expect(events.messages.count == 1)
        #expect(events.violations.isEmpty)
    }

    @Test func plainRequestsAreWalkedOverBeforeTheUpgrade() {
        let first = Array("GET /health HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        let second = Array("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n".utf8)
        let ok = Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8)
        let chunked = Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n".utf8)
        // Pipelined: all three requests before any answer.
        let events = Self.decode([
            (.client, first + second + Self.upgradeRequest(path: "/ws")),
            (.server, ok + chunked + Self.switching()),
            (.client, FrameBytes.client(0x2, [1, 2, 3])),
        ])
        let requests = events.compactMap { if case .request(let head, _) = $0 { return head.target } else { return nil } }
        #expect(requests == ["/health", "/echo", "/ws"])
        #expect(events.messages.count == 1)
        #expect(events.violations.isEmpty)
    }

    @Test func refusedUpgradeLeavesTheConnectionInHTTP() {
        let refusal = Array("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 30\r\nContent-Length: 4\r\n\r\nslow".utf8)
        let events = Self.decode([
            (.client, Self.upgradeRequest()),
            (.server, refusal),
            (.client, Self.upgradeRequest(path: "/again")),
            (.server, Self.switching()),
            (.server, FrameBytes.server(0x1, Array("welcome".utf8))),
        ])
        let outcomes = events.compactMap { if case .handshake(let h) = $0 { return h } else { return nil } }
        #expect(outcomes.map(\.upgraded) == [false, true])
        #expect(outcomes.first?.status == 429)
        #expect(events.messages.count == 1)
    }

    @Test func wrongAcceptIsTheServersViolation() {
        let events = Self.decode([(.client, Self.upgradeRequest()), (.server, Self.switching(accept: "AAAAAAAAAAAAAAAAAAAAAAAAAAA="))])
        #expect(events.violationKinds == [.acceptMismatch])
        #expect(events.violations.first?.side == .server)
    }

    @Test func deflateNegotiatedInTheHandshakeAppliesToFrames() {
        let events = Self.decode([
            (.client, Self.upgradeRequest(extensions: "permessage-deflate; client_max_window_bits")),
            (.server, Self.switching(extensions: "permessage-deflate")),
            (.server, [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]),
        ])
        #expect(events.violations.isEmpty)
        #expect(events.messages.first?.size == 5 && events.messages.first?.compressed == true)
        // Without the extension, RSV1 points at an intermediary that stripped the header.
        let stripped = Self.decode([
            (.client, Self.upgradeRequest()),
            (.server, Self.switching()),
            (.server, [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]),
        ])
        #expect(stripped.violationKinds == [.rsv1WithoutExtension])
    }

    @Test func garbageInsteadOfHTTPStopsThatDirectionOnly() {
        let events = Self.decode([
            (.client, Array("\u{16}\u{03}\u{01}\u{02}\u{00} TLS hello, not HTTP\r\n\r\n".utf8)),
            (.server, Array("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".utf8)),
        ])
        #expect(events.contains { if case .stopped(.client, _, _) = $0 { return true } else { return false } })
        #expect(events.contains { if case .response(let head, _) = $0 { return head.status == 400 } else { return false } })
    }

    @Test func oversizedHeadIsSkippedAndItsAnswerDecides() {
        let fill = "X-Fill: \(String(repeating: "a", count: 2000))\r\n"
        let huge = Array("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\(fill)\r\n".utf8)
        let configuration = ConnectionDecoderConfiguration(maxHeadSize: 1024)
        let events = Self.decode([(.client, huge + FrameBytes.client(0x1, Array("hi".utf8))),
                                  (.server, Self.switching() + FrameBytes.server(0x1, Array("hello".utf8)))],
                                 configuration: configuration)
        #expect(events.contains { if case .notice(let n) = $0 { return n.kind == .headTooLarge && n.detail.contains("1024") } else { return false } })
        #expect(!events.contains { if case .stopped = $0 { return true } else { return false } })
        #expect(events.contains { if case .handshake(let outcome) = $0 { return outcome.upgraded && outcome.issues.isEmpty } else { return false } })
        #expect(events.messages.map(\.side) == [.client, .server])

        // A "head" that never ends is given up on when the stream ends.
        let endless = Self.decode([(.client, Array("GET / HTTP/1.1\r\n\(fill)\(fill)".utf8))], configuration: configuration)
        let reasons = endless.compactMap { if case .stopped(_, let reason, _) = $0 { return reason } else { return nil } }
        #expect(reasons.count == 1 && reasons[0].contains("1024 bytes never ended"))
    }

    @Test func gapInFramesResynchronisesOnTheNextFrame() {
        var decoder = ConnectionDecoder()
        var events: [WireEvent] = []
        let frames = (0..<5).map { FrameBytes.server(0x1, Array("message \($0)".utf8)) }
        Self.upgradeRequest().withUnsafeBytes { decoder.feed($0, from: .client, into: &events) }
        Self.switching().withUnsafeBytes { decoder.feed($0, from: .server, into: &events) }
        frames[0].withUnsafeBytes { decoder.feed($0, from: .server, into: &events) }
        // Frame 1 and half of frame 2 are lost; frame 2's tail arrives, then three whole frames.
        let lost = frames[1].count + 4
        decoder.gap(from: .server, missing: Int64(lost), into: &events)
        (Array(frames[2].dropFirst(4)) + frames[3] + frames[4] + FrameBytes.server(0x8, FrameBytes.closePayload(1001))).withUnsafeBytes {
            decoder.feed($0, from: .server, into: &events)
        }
        decoder.endOfStream(from: .server, into: &events)
        #expect(events.violations.isEmpty)
        #expect(events.messages.count == 3)  // frames 0, 3, 4
        #expect(events.closes.first?.code == 1001)
        let skipped = events.compactMap { if case .resynchronised(_, let skipped, _) = $0 { return skipped } else { return nil } }
        #expect(skipped == [Int64(frames[2].count - 4)])
    }

    @Test func joiningMidFrameSkipsToTheFirstTrustedBoundary() {
        let frames = (0..<4).map { FrameBytes.client(0x1, Array("part \($0) of the stream".utf8)) }
        let stream = Array(frames[0].dropFirst(9)) + frames[1] + frames[2] + frames[3]
        let events = Self.decode([(.client, stream)], configuration: ConnectionDecoderConfiguration(assumeWebSocket: true))
        let skipped = events.compactMap { if case .resynchronised(.client, let skipped, _) = $0 { return skipped } else { return nil } }
        #expect(skipped == [Int64(frames[0].count - 9)])
        #expect(events.messages.count == 3)
        #expect(events.violations.isEmpty)
    }

    @Test func shortStreamsJoinedMidwayAreDecidedWhenTheyEnd() {
        // Two frames only: not enough to trust until the stream is known to have ended.
        let stream = FrameBytes.server(0x1, Array("one".utf8)) + FrameBytes.server(0x8, FrameBytes.closePayload(1000))
        let events = Self.decode([(.server, stream)], configuration: ConnectionDecoderConfiguration(assumeWebSocket: true))
        #expect(events.messages.count == 1)
        #expect(events.closes.first?.code == 1000)
    }

    @Test func joinedStreamWithNoFramesIsGivenUp() {
        let noise = (0..<600).map { UInt8(truncatingIfNeeded: $0 &* 37 | 0x30) }
        let events = Self.decode([(.server, noise)], configuration: ConnectionDecoderConfiguration(maxResyncBytes: 512, assumeWebSocket: true))
        #expect(events.contains { if case .stopped(.server, _, _) = $0 { return true } else { return false } })
    }
}
