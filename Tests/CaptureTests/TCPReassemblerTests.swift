import Capture
import Diagnosis
import Testing
import WebSocketWire

@Suite struct TCPReassemblerTests {
    typealias H = ReassemblerHarness

    @Test func inOrderExchangeWithFINBothWays() {
        let h = H()
        h.handshake(client: 1000, server: 5000)
        h.c(1001, ack: 5001, [.ack, .psh], "hello")
        h.s(5001, ack: 1006, [.ack, .psh], "world!")
        h.c(1006, ack: 5007, [.ack, .fin])
        h.s(5007, ack: 1007, [.ack, .fin])
        h.c(1007, ack: 5008, .ack)  // last ACK after both FINs must not open a ghost connection
        h.finish()
        #expect(h.events == [
            H.opened, .data(1, .client, "hello"), .data(1, .server, "world!"),
            .finished(1, .client), .finished(1, .server),
        ])
        #expect(h.reassembler.statistics.openConnections == 0)
        #expect(h.reassembler.statistics.segmentsAfterClose == 1)
        #expect(h.reassembler.statistics.gaps == 0)
    }

    @Test func retransmittedBytesAreDroppedAndPartialOverlapTrimmed() {
        let h = H()
        h.handshake(client: 1000, server: 5000)
        h.c(1001, "hello")
        h.c(1001, "hello")
        h.c(1004, "loXYZ")
        h.c(1000, "") // keep-alive probe style: behind the delivery point
        h.finish()
        #expect(h.events == [H.opened, .data(1, .client, "helloXYZ"), .ended(1)])
        #expect(h.reassembler.statistics.retransmittedBytes == 7)
    }

    @Test func outOfOrderSegmentsWaitForTheHoleToFill() {
        let h = H()
        h.handshake(client: 1000, server: 5000)
        h.c(1006, "world")
        #expect(h.events == [H.opened])
        h.c(1001, "hello")
        #expect(h.events == [H.opened, .data(1, .client, "helloworld")])
        // Both parts are delivered when they became in order: the later packet's time.
        #expect(h.delegate.times.suffix(2) == [h.clock, h.clock])
    }

    @Test func firstSeenBytesWinOverLaterOverlaps() {
        let h = H()
        h.handshake(client: 1000, server: 5000)
        h.c(1006, "AAAAA")             // offsets 5..<10, buffered
        h.c(1003, "bcdefghijklm")      // 2..<14: only 2..<5 and 10..<14 are new
        h.c(1001, "hi")                // 0..<2 fills the hole
        #expect(h.events == [H.opened, .data(1, .client, "hibcdAAAAAjklm")])

        let g = H()
        g.handshake(client: 1000, server: 5000)
        g.c(1006, "AAAAA")
        g.c(1001, "helloBBBBBC")       // in order, overlapping the buffered bytes
        #expect(g.events == [H.opened, .data(1, .client, "helloAAAAAC")])
    }

    @Test func holeAtEndOfCaptureBecomesAGapWithTheExactCount() {
        let h = H()
        h.handshake(client: 1000, server: 5000)
        h.c(1001, "hello")
        h.c(1011, "world")             // 1006..<1011 never captured
        h.finish()
        #expect(h.events == [H.opened, .data(1, .client, "hello"), .gap(1, .client, 5), .data(1, .client, "world"), .ended(1)])
        #expect(h.reassembler.statistics.gaps == 1)
        #expect(h.reassembler.statistics.missingBytes == 5)
    }

    @Test func holeBeforeFINIsReportedThenFIN() {
        let h = H()
        h.handshake(client: 1000, server: 5000)
        h.c(1011, [.ack, .fin], "world")
        h.finish()
        #expect(h.events == [H.opened, .gap(1, .client, 10), .data(1, .client, "world"), .finished(1, .client), .ended(1)])
    }

    @Test func finWaitsForOutOfOrderDataBeforeIt() {
        let h = H()
        h.handshake(client: 1000, server: 5000)
        h.c(1006, [.ack, .fin], "world")
        h.c(1001, "hello")
        h.c(1011, "extra")             // after the FIN: ignored
        #expect(h.events == [H.opened, .data(1, .client, "helloworld"), .finished(1, .client)])
    }

    @Test func dataPastAnEarlierFINIsIgnored() {
        let h = H()
        h.handshake(client: 1000, server: 5000)
        h.c(1003, [.ack, .fin])        // FIN at offset 2, bytes 0..<2 not yet seen
        h.c(1010, "zz")                // beyond the FIN
        h.c(1001, "ab")
        #expect(h.events == [H.opened, .data(1, .client, "ab"), .finished(1, .client)])
    }

    @Test func peerAcknowledgingUnseenBytesReportsTheGapAtOnce() {
        let h = H()
        h.handshake(client: 1000, server: 5000)
        h.c(1001, "hello")
        h.c(1010, "more")              // 1006..<1010 lost by the capture
        h.s(5001, ack: 1014)
        #expect(h.events == [H.opened, .data(1, .client, "hello"), .gap(1, .client, 4), .data(1, .client, "more")])
        h.s(5001, ack: 1020)           // nothing captured at all for 1014..<1020
        #expect(h.events.last == .gap(1, .client, 6))
    }

    @Test func bufferLimitGivesUpTheOldestHole() {
        let h = H(.init(maxBufferedBytesPerDirection: 10))
        h.handshake(client: 1000, server: 5000)
        h.c(1001, "a")
        h.c(1005, "bbbbbb")            // offset 4, 6 bytes buffered
        h.c(1015, "cccccc")            // 12 buffered > 10
        #expect(h.events == [H.opened, .data(1, .client, "a"), .gap(1, .client, 3), .data(1, .client, "bbbbbb")])
        #expect(h.reassembler.statistics.bufferLimitHits == 1)
        h.finish()
        #expect(h.events.suffix(3) == [.gap(1, .client, 4), .data(1, .client, "cccccc"), .ended(1)])
    }

    @Test func sequenceNumbersWrapAround() {
        let h = H()
        h.handshake(client: 0xFFFF_FFF0, server: 0xFFFF_FFFF)
        h.c(0xFFFF_FFF1, "0123456789abcdef") // crosses 2^32
        h.c(0x0000_0001, "XYZ")
        h.c(0x0000_0007, "DEF")
        h.c(0x0000_0004, "ABC")
        h.s(0x0000_0000, "server")           // server ISN 0xFFFFFFFF: data starts at 0
        h.c(0x0000_000A, [.ack, .fin])
        #expect(h.events == [
            H.opened, .data(1, .client, "0123456789abcdefXYZABCDEF"), .data(1, .server, "server"), .finished(1, .client),
        ])
    }

    @Test func interleavedConnectionsStaySeparate() {
        let h = H()
        let clientA = H.Peer(address: IPAddress(ipv4: 0x0a00_0001), port: 40001)
        let clientB = H.Peer(address: IPAddress(ipv4: 0x0a00_0003), port: 40002)
        let v6Client = H.Peer(address: IPAddress(ipv6High: 0x2001_0db8_0000_0000, low: 1), port: 40003)
        let v6Server = H.Peer(address: IPAddress(ipv6High: 0x2001_0db8_0000_0000, low: 2), port: 443)
        h.send(from: clientA, to: H.server, seq: 100, flags: .syn)
        h.send(from: clientB, to: H.server, seq: 200, flags: .syn)
        h.send(from: v6Client, to: v6Server, seq: 300, flags: .syn)
        h.send(from: H.server, to: clientB, seq: 900, ack: 201, flags: [.syn, .ack])
        h.send(from: clientB, to: H.server, seq: 201, "B1")
        h.send(from: clientA, to: H.server, seq: 101, "A1")
        h.send(from: v6Client, to: v6Server, seq: 301, "V1")
        h.send(from: clientB, to: H.server, seq: 203, "B2")
        h.send(from: H.server, to: clientB, seq: 901, "toB")
        h.send(from: clientA, to: H.server, seq: 103, flags: .rst)
        h.finish()
        #expect(h.events == [
            .opened(1, client: "10.0.0.1:40001", server: "10.0.0.2:80", sawSYN: true, sidesGuessed: false),
            .opened(2, client: "10.0.0.3:40002", server: "10.0.0.2:80", sawSYN: true, sidesGuessed: false),
            .opened(3, client: "[2001:db8::1]:40003", server: "[2001:db8::2]:443", sawSYN: true, sidesGuessed: false),
            .data(2, .client, "B1"), .data(1, .client, "A1"), .data(3, .client, "V1"), .data(2, .client, "B2"),
            .data(2, .server, "toB"), .reset(1, .client), .ended(2), .ended(3),
        ])
    }

    @Test func connectionWithoutSYNUsesServerPorts() {
        let h = H(.init(serverPorts: [8080]))
        let client = H.Peer(address: IPAddress(ipv4: 0x0a00_0001), port: 9000)
        let server = H.Peer(address: IPAddress(ipv4: 0x0a00_0002), port: 8080)
        h.send(from: server, to: client, seq: 777, ack: 333, "abc")
        h.send(from: client, to: server, seq: 333, ack: 780, "xyz")
        h.send(from: server, to: client, seq: 780, ack: 336, "def")
        h.finish()
        #expect(h.events == [
            .opened(1, client: "10.0.0.1:9000", server: "10.0.0.2:8080", sawSYN: false, sidesGuessed: false),
            .data(1, .server, "abc"), .data(1, .client, "xyz"), .data(1, .server, "def"), .ended(1),
        ])
    }

    @Test func connectionWithoutSYNOrServerPortGuessesTheLowerPort() {
        let h = H()
        let high = H.Peer(address: IPAddress(ipv4: 0x0a00_0001), port: 50000)
        let low = H.Peer(address: IPAddress(ipv4: 0x0a00_0002), port: 443)
        h.send(from: high, to: low, seq: 10, "x")
        h.finish()
        #expect(h.events == [
            .opened(1, client: "10.0.0.1:50000", server: "10.0.0.2:443", sawSYN: false, sidesGuessed: true),
            .data(1, .client, "x"), .ended(1),
        ])
    }

    @Test func synAckWithoutSYNMakesItsSenderTheServer() {
        let h = H()
        h.s(5000, ack: 1001, [.syn, .ack])
        h.c(1001, ack: 5001, .ack, "hi")
        #expect(h.events == [H.opened, .data(1, .client, "hi")])
    }

    @Test func resetFlushesBufferedDataThenReports() {
        let h = H()
        h.handshake(client: 1000, server: 5000)
        h.c(1001, "hello")
        h.c(1011, "world")
        h.s(5001, ack: 1006, [.rst, .ack])
        h.c(1016, "late")              // after the reset: ignored
        h.finish()
        #expect(h.events == [
            H.opened, .data(1, .client, "hello"), .gap(1, .client, 5), .data(1, .client, "world"), .reset(1, .server),
        ])
        #expect(h.reassembler.statistics.segmentsAfterClose == 1)
    }

    @Test func newSYNAfterFinishedConnectionStartsANewOne() {
        let h = H()
        h.handshake(client: 1000, server: 5000)
        h.c(1001, [.ack, .fin])
        h.s(5001, ack: 1002, [.ack, .fin])
        h.c(1002, ack: 5002)
        h.handshake(client: 90000, server: 70000)
        h.c(90001, ack: 70001, .ack, "again")
        h.finish()
        #expect(h.events == [
            H.opened, .finished(1, .client), .finished(1, .server),
            .opened(2, client: "10.0.0.1:50000", server: "10.0.0.2:80", sawSYN: true, sidesGuessed: false),
            .data(2, .client, "again"), .ended(2),
        ])
    }

    @Test func captureEndedFollowsOpeningOrder() {
        let h = H()
        for port: UInt16 in [40005, 40001, 40003] {
            h.send(from: H.Peer(address: IPAddress(ipv4: 0x0a00_0001), port: port), to: H.server, seq: 1, flags: .syn)
        }
        h.finish()
        #expect(Array(h.events.suffix(3)) == [.ended(1), .ended(2), .ended(3)])
    }

    @Test func idleConnectionsAreGivenUpWithTheirHolesReported() {
        let h = H()
        let quiet = H.Peer(address: IPAddress(ipv4: 0x0a00_0001), port: 40001)
        let busy = H.Peer(address: IPAddress(ipv4: 0x0a00_0001), port: 40002)
        h.send(from: quiet, to: H.server, seq: 1, flags: .syn)       // 1 ms
        h.send(from: quiet, to: H.server, seq: 7, "later")            // 2 ms: 5 bytes missing before it
        h.send(from: busy, to: H.server, seq: 1, flags: .syn)        // 3 ms
        h.send(from: busy, to: H.server, seq: 2, "still here")        // 4 ms
        h.reassembler.expireIdle(before: Timestamp(nanoseconds: 3_000_000), at: Timestamp(nanoseconds: 10_000_000))
        #expect(Array(h.events.suffix(3)) == [.gap(1, .client, 5), .data(1, .client, "later"), .expired(1, lastSegmentMillis: 2)])
        #expect(h.reassembler.statistics.connectionsExpired == 1)
        #expect(h.reassembler.statistics.openConnections == 1)
        // A straggler of the given-up connection does not bring it back.
        h.send(from: quiet, to: H.server, seq: 12, "more")
        #expect(h.reassembler.statistics.segmentsAfterClose == 1)
        h.finish()
        #expect(h.events.last == .ended(2))
    }

    @Test func connectionLimitRefusesNewConnectionsUntilOneCloses() {
        let h = H(.init(maxConnections: 2))
        let peers = (1...3).map { H.Peer(address: IPAddress(ipv4: 0x0a00_0001), port: 40000 + UInt16($0)) }
        for peer in peers { h.send(from: peer, to: H.server, seq: 1, flags: .syn) }
        #expect(h.reassembler.statistics.segmentsRefused == 1)
        #expect(h.reassembler.statistics.openConnections == 2)
        h.send(from: peers[0], to: H.server, seq: 2, flags: .rst)
        h.send(from: peers[2], to: H.server, seq: 1, flags: .syn)
        #expect(h.reassembler.statistics.openConnections == 2)
        #expect(h.events.last == .opened(3, client: "10.0.0.1:40003", server: "10.0.0.2:80", sawSYN: true, sidesGuessed: false))
    }

    @Test func truncatedPayloadLeavesAGapOfTheMissingBytes() {
        let h = H()
        h.handshake(client: 1000, server: 5000)
        h.c(1001, "hel", declaredLength: 5)
        h.c(1006, "world")
        h.finish()
        #expect(h.events == [H.opened, .data(1, .client, "hel"), .gap(1, .client, 2), .data(1, .client, "world"), .ended(1)])
    }

    @Test func retransmittedSYNIsHarmless() {
        let h = H()
        h.c(1000, .syn)
        h.c(1000, .syn)
        h.s(5000, ack: 1001, [.syn, .ack])
        h.c(1001, ack: 5001, .ack, "ok")
        #expect(h.events == [H.opened, .data(1, .client, "ok")])
    }

    @Test func byteByByteDeliveryMatchesWholeDelivery() {
        let text = "The quick brown fox jumps over the lazy dog"
        let whole = H()
        whole.handshake(client: 1, server: 2)
        whole.c(2, text)
        let pieces = H()
        pieces.handshake(client: 1, server: 2)
        // Reverse order, one byte per segment: everything buffers until the first byte.
        for (index, character) in text.enumerated().reversed() {
            pieces.c(2 + UInt32(index), String(character))
        }
        #expect(whole.events == pieces.events)
    }
}
