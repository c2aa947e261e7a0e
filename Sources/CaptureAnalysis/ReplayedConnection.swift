import Capture
import Diagnosis
import WebSocketWire

/// One TCP connection of a replay: its analyzer, and which way round its sides are.
///
/// Shared by the single-threaded ``ReplaySession`` and the workers of a parallel replay,
/// so both feed an analyzer exactly the same way.
struct ReplayedConnection {
    private(set) var analyzer: ConnectionAnalyzer
    /// The server's answer to the upgrade has been passed on.
    private(set) var announced = false
    /// The sides were guessed from port numbers and no data has confirmed them yet.
    private var sidesUnconfirmed: Bool
    /// The guessed sides turned out the wrong way round.
    private var sidesSwapped = false

    /// - Parameter number: the connection's place in opening order (its facts' `id`).
    init(number: Int, client: Endpoint, server: Endpoint, at time: Timestamp, sawSYN: Bool, sidesGuessed: Bool,
         configuration: AnalyzerConfiguration, webSocketPorts: Set<UInt16>) {
        var config = configuration
        config.decoder.assumeWebSocket = !sawSYN && webSocketPorts.contains(server.port)
        let facts = ConnectionFacts(id: number, client: client, server: server, opened: time, sawTCPOpen: sawSYN, sidesGuessed: sidesGuessed)
        analyzer = ConnectionAnalyzer(facts: facts, configuration: config)
        sidesUnconfirmed = sidesGuessed
    }

    var isFinished: Bool { analyzer.isFinished }

    /// Feeds the next bytes; returns true when the server's answer to the upgrade has just
    /// become known (once per connection).
    mutating func received(_ bytes: UnsafeRawBufferPointer, from side: Side, at time: Timestamp) -> Bool {
        if sidesUnconfirmed { confirmSides(firstBytesFrom: side, bytes) }
        analyzer.received(bytes, from: actual(side), at: time)
        guard !announced, analyzer.facts.handshake?.status != nil else { return false }
        announced = true
        return true
    }

    mutating func gap(from side: Side, missing: Int64, at time: Timestamp) {
        analyzer.gap(from: actual(side), missing: missing, at: time)
    }

    mutating func finished(from side: Side, at time: Timestamp) {
        analyzer.finished(from: actual(side), at: time)
    }

    mutating func reset(from side: Side, at time: Timestamp) {
        analyzer.reset(from: actual(side), at: time)
    }

    mutating func sourceEnded(at time: Timestamp) {
        analyzer.sourceEnded(at: time)
    }

    mutating func trackingExpired(at time: Timestamp) {
        analyzer.trackingExpired(at: time)
    }

    private func actual(_ side: Side) -> Side {
        sidesSwapped ? side.peer : side
    }

    /// Sides guessed from port numbers are swapped when the first bytes say otherwise:
    /// an HTTP request from the "server", or a status line from the "client".
    private mutating func confirmSides(firstBytesFrom side: Side, _ bytes: UnsafeRawBufferPointer) {
        sidesUnconfirmed = false
        let start = String(decoding: bytes.prefix(8), as: UTF8.self)
        let looksLikeRequest = ["GET ", "POST ", "PUT ", "HEAD ", "OPTIONS ", "DELETE ", "PATCH "].contains { start.hasPrefix($0) }
        let looksLikeStatus = start.hasPrefix("HTTP/1.")
        guard looksLikeRequest || looksLikeStatus else { return }
        // No bytes were fed yet, so the analyzer can start over with corrected facts.
        var facts = analyzer.facts
        facts.sidesGuessed = false
        if (side == .server && looksLikeRequest) || (side == .client && looksLikeStatus) {
            sidesSwapped = true
            swap(&facts.client, &facts.server)
        }
        analyzer = ConnectionAnalyzer(facts: facts, configuration: analyzer.configuration)
    }
}
