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
    /// Internal so that a parallel replay's merger can drive the same one.
    var diagnoser: Diagnoser
    let onConnection: (FinishedConnection) -> Void
    /// How the caller renders a report, when it wants it rendered ahead on the worker
    /// threads of a parallel replay (``FinishedConnection/rendered``).
    let render: (@Sendable (FinishedConnection) -> String)?
    /// A reference to each connection, so feeding one mutates it in place instead of moving
    /// the whole analyzer out of the dictionary and back for every segment.
    private final class ConnectionBox {
        var connection: ReplayedConnection
        let ticket: Diagnoser.Ticket
        init(_ connection: ReplayedConnection, ticket: Diagnoser.Ticket) {
            self.connection = connection
            self.ticket = ticket
        }
    }

    private var connections: [TCPConnectionID: ConnectionBox] = [:]
    private var opened = 0
    /// Called once per connection when the server has answered its upgrade request, for a
    /// live view that shows connections as they open.
    public var onHandshakeAnswered: ((ConnectionFacts) -> Void)?
    /// The latest time any event carried.
    private var latest = Timestamp(nanoseconds: 0)

    /// - Parameters:
    ///   - order: `.ending` for a live capture: closes are reported as they happen.
    ///   - render: the caller's rendering of a report; a parallel replay's workers run it and
    ///     hand the result on in ``FinishedConnection/rendered`` (nil when it was not run).
    public init(configuration: AnalyzerConfiguration = AnalyzerConfiguration(), rules: RuleSet = .defaults(),
                webSocketPorts: Set<UInt16> = [], order: Diagnoser.ReportOrder = .opening,
                maxFinishedWaiting: Int = 10_000, render: (@Sendable (FinishedConnection) -> String)? = nil,
                onConnection: @escaping (FinishedConnection) -> Void) {
        self.configuration = configuration
        self.webSocketPorts = webSocketPorts
        self.diagnoser = Diagnoser(rules: rules, order: order, webSocketPorts: webSocketPorts, maxFinishedWaiting: maxFinishedWaiting)
        self.render = render
        self.onConnection = onConnection
    }

    public func connectionOpened(_ id: TCPConnectionID, client: Endpoint, server: Endpoint, at time: Timestamp,
                                 sawSYN: Bool, sidesGuessed: Bool) {
        latest = max(latest, time)
        let connection = ReplayedConnection(number: opened, client: client, server: server, at: time, sawSYN: sawSYN,
                                            sidesGuessed: sidesGuessed, configuration: configuration, webSocketPorts: webSocketPorts)
        opened += 1
        connections[id] = ConnectionBox(connection, ticket: diagnoser.opened())
    }

    public func received(_ id: TCPConnectionID, from side: Side, bytes: UnsafeRawBufferPointer, at time: Timestamp) {
        latest = max(latest, time)
        guard let box = connections[id] else { return }
        if box.connection.received(bytes, from: side, at: time) { upgradeAnswered(box.connection.analyzer.facts) }
    }

    /// The server answered a connection's upgrade request (in capture order).
    func upgradeAnswered(_ facts: ConnectionFacts) {
        onHandshakeAnswered?(facts)
        for report in diagnoser.upgradeAnswered(facts) { onConnection(report) }
    }

    public func gap(_ id: TCPConnectionID, from side: Side, missingBytes: Int64, at time: Timestamp) {
        connections[id]?.connection.gap(from: side, missing: missingBytes, at: time)
    }

    public func finished(_ id: TCPConnectionID, from side: Side, at time: Timestamp) {
        connections[id]?.connection.finished(from: side, at: time)
        flushIfDone(id)
    }

    public func reset(_ id: TCPConnectionID, from side: Side, at time: Timestamp) {
        connections[id]?.connection.reset(from: side, at: time)
        flushIfDone(id)
    }

    public func captureEnded(_ id: TCPConnectionID, at time: Timestamp) {
        latest = max(latest, time)
        connections[id]?.connection.sourceEnded(at: time)
        flushIfDone(id)
    }

    public func stoppedTracking(_ id: TCPConnectionID, lastSegmentAt: Timestamp, at time: Timestamp) {
        latest = max(latest, time)
        connections[id]?.connection.trackingExpired(at: time)
        flushIfDone(id)
    }

    /// Reads a whole capture file through this session and hands on every connection in it.
    ///
    /// - Parameter threads: with more than one, connections are decoded on that many worker
    ///   threads (``ParallelReplay``); what is handed on, and in what order, is the same.
    /// - Returns: what the file held, and the error that cut reading short, if any (everything
    ///   before it has been handed on).
    public func replay(file path: String, filter: String? = nil, threads: Int = 1) -> (statistics: CaptureFileFeeder.Statistics, error: CaptureError?) {
        let feeder = makeFeeder(file: path, filter: filter)
        if threads > 1 { return ParallelReplay(session: self, workers: threads).run(feeder) }
        var failure: CaptureError?
        do {
            try feeder.run(delegate: self)
        } catch {
            failure = error
        }
        finishAll(at: latest)
        return (feeder.statistics, failure)
    }

    /// Most worker threads ``replay(file:filter:threads:)`` starts.
    public static let maxThreads = ParallelReplay.maxWorkers

    func makeFeeder(file path: String, filter: String?) -> CaptureFileFeeder {
        CaptureFileFeeder(path: path, filter: filter, configuration: reassembly)
    }

    private var reassembly: TCPReassembler.Configuration { TCPReassembler.Configuration(serverPorts: webSocketPorts) }

    /// Reads `path` into this session packet by packet (for two captures side by side); once
    /// the stepper returns nil, call ``finishAll(at:)`` with ``latestTime``.
    public func stepper(file path: String, filter: String? = nil) throws(CaptureError) -> CaptureFileStepper {
        try CaptureFileStepper(path: path, filter: filter, configuration: reassembly, delegate: self)
    }

    /// The latest time any event carried.
    public var latestTime: Timestamp { latest }

    /// Ends every connection still open (the source is exhausted) and hands all on.
    public func finishAll(at time: Timestamp) {
        for id in connections.keys.sorted() {
            connections[id]?.connection.sourceEnded(at: time)
            flushIfDone(id)
        }
        diagnoser.sourceEnded()
    }

    /// What is known so far of every connection still open that its end would report, in
    /// the order they opened, for a live report. Call it where the session is fed.
    public func openConnections() -> [OpenConnection] {
        connections.values.compactMap { box in
            let facts = box.connection.analyzer.facts
            let known = webSocketPorts.contains(facts.server.port) || box.connection.announced
            return Diagnoser.isWorthReporting(facts, toKnownWebSocketServer: known) ? OpenConnection(box.connection.analyzer) : nil
        }.sorted { $0.facts.id < $1.facts.id }
    }

    private func flushIfDone(_ id: TCPConnectionID) {
        guard let box = connections[id], box.connection.isFinished else { return }
        connections[id] = nil
        for report in diagnoser.ended(box.ticket, box.connection.analyzer) { onConnection(report) }
    }
}
