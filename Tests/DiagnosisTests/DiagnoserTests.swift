import Diagnosis
import Testing
import WebSocketWire

/// The report policy for connections that never tried to upgrade: held until their server
/// is seen to answer an upgrade, bounded, and given up when the source ends.
@Suite struct DiagnoserTests {
    private static let server = Endpoint(address: "10.0.0.2", port: 8080)

    private static func analyzer(client port: UInt16, to server: Endpoint = server) -> ConnectionAnalyzer {
        let facts = ConnectionFacts(id: Int(port), client: Endpoint(address: "10.0.0.1", port: port), server: server,
                                    opened: Timestamp(nanoseconds: Int64(port) * 1_000_000), sawTCPOpen: true, sidesGuessed: false)
        return ConnectionAnalyzer(facts: facts, configuration: AnalyzerConfiguration())
    }

    /// A client that connects and ends the connection without sending a byte.
    private static func silent(client port: UInt16, to server: Endpoint = server) -> ConnectionAnalyzer {
        var analyzer = analyzer(client: port, to: server)
        analyzer.finished(from: .client, at: Timestamp(nanoseconds: Int64(port) * 1_000_000 + 300_000_000))
        analyzer.finished(from: .server, at: Timestamp(nanoseconds: Int64(port) * 1_000_000 + 301_000_000))
        return analyzer
    }

    private static func upgrade(client port: UInt16, to server: Endpoint = server) -> ConnectionAnalyzer {
        var analyzer = analyzer(client: port, to: server)
        let request = "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        let answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        let time = Timestamp(nanoseconds: Int64(port) * 1_000_000)
        Array(request.utf8).withUnsafeBytes { analyzer.received($0, from: .client, at: time) }
        Array(answer.utf8).withUnsafeBytes { analyzer.received($0, from: .server, at: time) }
        return analyzer
    }

    @Test(arguments: [Diagnoser.ReportOrder.opening, .ending])
    func aSilentClientIsHeldUntilItsServerAnswersAnUpgrade(order: Diagnoser.ReportOrder) {
        var diagnoser = Diagnoser(order: order)
        let other = Endpoint(address: "10.0.0.3", port: 5432)
        let first = diagnoser.opened(), second = diagnoser.opened(), third = diagnoser.opened()
        #expect(diagnoser.ended(first, Self.silent(client: 1)).isEmpty)
        #expect(diagnoser.ended(second, Self.silent(client: 2, to: other)).isEmpty)
        #expect(diagnoser.reported == 0 && diagnoser.notReported == 0)
        // The upgrade's answer releases the one to this server, not the one to the other.
        let upgrading = Self.upgrade(client: 3)
        let released = diagnoser.upgradeAnswered(upgrading.facts)
        #expect(released.map(\.facts.client.port) == [1])
        #expect(released.first?.diagnosis.id == "client-sent-nothing")
        #expect(diagnoser.ended(third, upgrading).map(\.facts.client.port) == [3])
        diagnoser.sourceEnded()
        #expect(diagnoser.reported == 2 && diagnoser.upgraded == 1 && diagnoser.notReported == 1)
    }

    /// Opening order: a held connection released while an earlier one is still open takes
    /// its place behind it; as they end (live), it is handed on at once.
    @Test func aReleasedConnectionTakesItsPlaceInOpeningOrder() {
        /// A long connection to another server opens first; a silent one ends; a third upgrades
        /// and ends; then the long one ends. The client ports handed on at each step.
        func handedOn(_ order: Diagnoser.ReportOrder) -> [[UInt16]] {
            var diagnoser = Diagnoser(order: order)
            let long = diagnoser.opened(), silent = diagnoser.opened(), upgrading = diagnoser.opened()
            let steps = [
                diagnoser.ended(silent, Self.silent(client: 2)),
                diagnoser.upgradeAnswered(Self.upgrade(client: 3).facts),
                diagnoser.ended(upgrading, Self.upgrade(client: 3)),
                diagnoser.ended(long, Self.upgrade(client: 1, to: Endpoint(address: "10.0.0.3", port: 443))),
            ]
            return steps.map { $0.map(\.facts.client.port) }
        }
        #expect(handedOn(.opening) == [[], [], [], [1, 2, 3]])
        #expect(handedOn(.ending) == [[], [2], [3], [1]])
    }

    @Test func heldConnectionsAreBoundedOldestGivenUpFirst() {
        var diagnoser = Diagnoser(order: .opening)
        let count = Diagnoser.undecidedCapacity + 2
        for port in 1...count { _ = diagnoser.ended(diagnoser.opened(), Self.silent(client: UInt16(port))) }
        #expect(diagnoser.notReported == 2)
        let released = diagnoser.upgradeAnswered(Self.upgrade(client: UInt16(count + 1)).facts)
        #expect(released.count == Diagnoser.undecidedCapacity)
        #expect(released.first?.facts.client.port == 3 && released.last?.facts.client.port == UInt16(count))
    }
}
