import Capture
import Diagnosis
import WebSocketWire

/// Feeds reassembled TCP streams to one `ConnectionAnalyzer` per connection and hands each
/// ended connection to the ``Diagnoser``, which decides what is reported and in what order.
///
/// By default connections are handed on in the order they opened (see
/// ``Diagnoser/ReportOrder/opening``), so output order never depends on which closed first.
public final class ReplaySession: TCPStreamDelegate {
    public let configuration: AnalyzerConfiguration
    /// Server ports named by the user: connections to them whose handshake was not
    /// captured are searched for frames.
    public let webSocketPorts: Set<UInt16>
    /// TCP connections that were not worth a report (other protocols, plain HTTP).
    public var otherConnections: Int { diagnoser.notReported }
    /// Connections reported, and those of them that upgraded to WebSocket (the rest never
    /// tried: a client that said nothing or sent garbage to a WebSocket server).
    public var reportedConnections: Int { diagnoser.reported }
    public var upgradedConnections: Int { diagnoser.upgraded }

    public var rules: RuleSet { diagnoser.rules }
    private var diagnoser: Diagnoser
    private let onConnection: (FinishedConnection) -> Void
    /// A reference to each analyzer, so feeding one mutates it in place instead of moving
    /// the whole analyzer out of the dictionary and back for every segment.
    private final class AnalyzerBox {
        var analyzer: ConnectionAnalyzer
        let ticket: Diagnoser.Ticket
        /// The server's answer to the upgrade has been passed on.
        var announced = false
        init(_ analyzer: ConnectionAnalyzer, ticket: Diagnoser.Ticket) {
            self.analyzer = analyzer
            self.ticket = ticket
        }
    }

    private var analyzers: [TCPConnectionID: AnalyzerBox] = [:]
    /// Connections whose sides were guessed from port numbers and not yet confirmed by data.
    private var unconfirmedSides: Set<TCPConnectionID> = []
    /// Connections whose guessed sides turned out the wrong way round.
    private var swappedSides: Set<TCPConnectionID> = []
    private var opened = 0
    /// Called once per connection when the server has answered its upgrade request, for a
    /// live view that shows connections as they open.
    public var onHandshakeAnswered: ((ConnectionFacts) -> Void)?
    /// The latest time any event carried.
    private var latest = Timestamp(nanoseconds: 0)

    /// - Parameter order: `.ending` for a live capture: closes are reported as they happen.
    public init(configuration: AnalyzerConfiguration = AnalyzerConfiguration(), rules: RuleSet = .defaults(),
                webSocketPorts: Set<UInt16> = [], order: Diagnoser.ReportOrder = .opening,
                maxFinishedWaiting: Int = 10_000, onConnection: @escaping (FinishedConnection) -> Void) {
        self.configuration = configuration
        self.webSocketPorts = webSocketPorts
        self.diagnoser = Diagnoser(rules: rules, order: order, webSocketPorts: webSocketPorts, maxFinishedWaiting: maxFinishedWaiting)
        self.onConnection = onConnection
    }

    public func connectionOpened(_ id: TCPConnectionID, client: Endpoint, server: Endpoint, at time: Timestamp,
                                 sawSYN: Bool, sidesGuessed: Bool) {
        latest = max(latest, time)
        var config = configuration
        config.decoder.assumeWebSocket = !sawSYN && webSocketPorts.contains(server.port)
        let facts = ConnectionFacts(id: opened, client: client, server: server, opened: time, sawTCPOpen: sawSYN, sidesGuessed: sidesGuessed)
        opened += 1
        analyzers[id] = AnalyzerBox(ConnectionAnalyzer(facts: facts, configuration: config), ticket: diagnoser.opened())
        if sidesGuessed { unconfirmedSides.insert(id) }
    }

    public func received(_ id: TCPConnectionID, from side: Side, bytes: UnsafeRawBufferPointer, at time: Timestamp) {
        latest = max(latest, time)
        if unconfirmedSides.contains(id) { confirmSides(id, firstBytesFrom: side, bytes) }
        guard let box = analyzers[id] else { return }
        box.analyzer.received(bytes, from: actual(side, id), at: time)
        if !box.announced, box.analyzer.facts.handshake?.status != nil {
            box.announced = true
            onHandshakeAnswered?(box.analyzer.facts)
            for report in diagnoser.upgradeAnswered(box.analyzer.facts) { onConnection(report) }
        }
    }

    public func gap(_ id: TCPConnectionID, from side: Side, missingBytes: Int64, at time: Timestamp) {
        analyzers[id]?.analyzer.gap(from: actual(side, id), missing: missingBytes, at: time)
    }

    public func finished(_ id: TCPConnectionID, from side: Side, at time: Timestamp) {
        analyzers[id]?.analyzer.finished(from: actual(side, id), at: time)
        flushIfDone(id)
    }

    public func reset(_ id: TCPConnectionID, from side: Side, at time: Timestamp) {
        analyzers[id]?.analyzer.reset(from: actual(side, id), at: time)
        flushIfDone(id)
    }

    private func actual(_ side: Side, _ id: TCPConnectionID) -> Side {
        swappedSides.contains(id) ? side.peer : side
    }

    /// Sides guessed from port numbers are swapped when the first bytes say otherwise:
    /// an HTTP request from the "server", or a status line from the "client".
    private func confirmSides(_ id: TCPConnectionID, firstBytesFrom side: Side, _ bytes: UnsafeRawBufferPointer) {
        unconfirmedSides.remove(id)
        let start = String(decoding: bytes.prefix(8), as: UTF8.self)
        let looksLikeRequest = ["GET ", "POST ", "PUT ", "HEAD ", "OPTIONS ", "DELETE ", "PATCH "].contains { start.hasPrefix($0) }
        let looksLikeStatus = start.hasPrefix("HTTP/1.")
        guard looksLikeRequest || looksLikeStatus, let box = analyzers[id] else { return }
        let analyzer = box.analyzer
        // No bytes were fed yet, so the analyzer can start over with corrected facts.
        var facts = analyzer.facts
        facts.sidesGuessed = false
        if (side == .server && looksLikeRequest) || (side == .client && looksLikeStatus) {
            swappedSides.insert(id)
            swap(&facts.client, &facts.server)
        }
        box.analyzer = ConnectionAnalyzer(facts: facts, configuration: analyzer.configuration)
    }

    public func captureEnded(_ id: TCPConnectionID, at time: Timestamp) {
        latest = max(latest, time)
        analyzers[id]?.analyzer.sourceEnded(at: time)
        flushIfDone(id)
    }

    public func stoppedTracking(_ id: TCPConnectionID, lastSegmentAt: Timestamp, at time: Timestamp) {
        latest = max(latest, time)
        analyzers[id]?.analyzer.trackingExpired(at: time)
        flushIfDone(id)
    }

    /// Reads a whole capture file through this session and hands on every connection in it.
    ///
    /// - Returns: what the file held, and the error that cut reading short, if any (everything
    ///   before it has been handed on).
    public func replay(file path: String, filter: String? = nil) -> (statistics: CaptureFileFeeder.Statistics, error: CaptureError?) {
        let feeder = CaptureFileFeeder(path: path, filter: filter, configuration: TCPReassembler.Configuration(serverPorts: webSocketPorts))
        var failure: CaptureError?
        do {
            try feeder.run(delegate: self)
        } catch {
            failure = error
        }
        finishAll(at: latest)
        return (feeder.statistics, failure)
    }

    /// Ends every connection still open (the source is exhausted) and hands all on.
    public func finishAll(at time: Timestamp) {
        for id in analyzers.keys.sorted() {
            analyzers[id]?.analyzer.sourceEnded(at: time)
            flushIfDone(id)
        }
        diagnoser.sourceEnded()
    }

    /// What is known so far of every connection still open that its end would report, in
    /// the order they opened, for a live report. Call it where the session is fed.
    public func openConnections() -> [OpenConnection] {
        analyzers.values.compactMap { box in
            let facts = box.analyzer.facts
            let known = webSocketPorts.contains(facts.server.port) || box.announced
            return Diagnoser.isWorthReporting(facts, toKnownWebSocketServer: known) ? OpenConnection(box.analyzer) : nil
        }.sorted { $0.facts.id < $1.facts.id }
    }

    private func flushIfDone(_ id: TCPConnectionID) {
        guard let box = analyzers[id], box.analyzer.isFinished else { return }
        analyzers[id] = nil
        for report in diagnoser.ended(box.ticket, box.analyzer) { onConnection(report) }
    }
}
