import Capture
import CaptureAnalysis
import Diagnosis
import Testing
import WebSocketWire

/// Reports in the order connections end (`Diagnoser.ReportOrder.ending`), as `wsdoctor sniff` uses it: a connection is reported
/// when it ends, not held back behind one opened earlier that is still open.
@Suite struct LiveOrderTests {
    private static let upgrade = "GET /chat HTTP/1.1\r\nHost: example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

    /// Opens connections 1 and 2 with an upgrade request each, then resets 2 while 1 stays open.
    private func run(asTheyEnd: Bool) -> (session: ReplaySession, reported: () -> [Int]) {
        final class Reports { var ids: [Int] = [] }
        let reports = Reports()
        let session = ReplaySession(order: asTheyEnd ? .ending : .opening) { reports.ids.append($0.facts.id) }
        let client = Endpoint(address: "10.0.0.1", port: 40000), server = Endpoint(address: "10.0.0.2", port: 80)
        for raw in 1...2 {
            let id = TCPConnectionID(rawValue: raw)
            session.connectionOpened(id, client: Endpoint(address: client.address, port: client.port + UInt16(raw)), server: server,
                                     at: Timestamp(nanoseconds: Int64(raw) * 1_000_000), sawSYN: true, sidesGuessed: false)
            Array(Self.upgrade.utf8).withUnsafeBytes {
                session.received(id, from: .client, bytes: $0, at: Timestamp(nanoseconds: Int64(raw) * 2_000_000))
            }
        }
        session.reset(TCPConnectionID(rawValue: 2), from: .server, at: Timestamp(nanoseconds: 5_000_000))
        return (session, { reports.ids })
    }

    @Test func aLaterConnectionIsReportedWhileAnEarlierOneIsStillOpen() {
        let (session, reported) = run(asTheyEnd: true)
        #expect(reported() == [1], "facts ids count from 0: connection 2 is id 1")
        session.stoppedTracking(TCPConnectionID(rawValue: 1), lastSegmentAt: Timestamp(nanoseconds: 2_000_000),
                                at: Timestamp(nanoseconds: 7_200_000_000_000))
        #expect(reported() == [1, 0])
        session.finishAll(at: Timestamp(nanoseconds: 7_300_000_000_000))
        #expect(reported() == [1, 0], "nothing is reported twice")
    }

    @Test func replayKeepsTheOpeningOrder() {
        let (session, reported) = run(asTheyEnd: false)
        #expect(reported().isEmpty)
        session.finishAll(at: Timestamp(nanoseconds: 9_000_000))
        #expect(reported() == [0, 1])
    }

    @Test func aConnectionGivenUpIsDiagnosedAsNoLongerFollowed() {
        var diagnoses: [String] = []
        let session = ReplaySession(order: .ending) { diagnoses.append($0.diagnosis.id) }
        let id = TCPConnectionID(rawValue: 1)
        session.connectionOpened(id, client: Endpoint(address: "10.0.0.1", port: 40001), server: Endpoint(address: "10.0.0.2", port: 80),
                                 at: Timestamp(nanoseconds: 0), sawSYN: true, sidesGuessed: false)
        Array(Self.upgrade.utf8).withUnsafeBytes { session.received(id, from: .client, bytes: $0, at: Timestamp(nanoseconds: 1)) }
        session.stoppedTracking(id, lastSegmentAt: Timestamp(nanoseconds: 1), at: Timestamp(nanoseconds: 7_200_000_000_000))
        #expect(diagnoses == ["tracking-expired"])
    }

    @Test func theAnsweredHandshakeIsAnnouncedOnce() {
        var announced: [Int?] = []
        let session = ReplaySession { _ in }
        session.onHandshakeAnswered = { announced.append($0.handshake?.status) }
        let id = TCPConnectionID(rawValue: 1)
        session.connectionOpened(id, client: Endpoint(address: "10.0.0.1", port: 40001), server: Endpoint(address: "10.0.0.2", port: 80),
                                 at: Timestamp(nanoseconds: 0), sawSYN: true, sidesGuessed: false)
        let answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        let frame: [UInt8] = [0x81, 0x02, 0x68, 0x69]  // "hi" from the server
        let steps: [(Side, [UInt8], [Int?])] = [(.client, Array(Self.upgrade.utf8), []), (.server, Array(answer.utf8), [101]), (.server, frame, [101])]
        for (side, bytes, expected) in steps {
            bytes.withUnsafeBytes { session.received(id, from: side, bytes: $0, at: Timestamp(nanoseconds: 1)) }
            #expect(announced == expected)
        }
    }
}
