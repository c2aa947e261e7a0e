import Diagnosis
import WebSocketWire

/// A connection that has ended, with its diagnosis.
public struct FinishedConnection: Sendable {
    public var facts: ConnectionFacts
    public var diagnosis: ConnectionDiagnosis
    /// Every frame and message, when the configuration asked for a timeline.
    public var timeline: [TimelineEntry]
    public var timelineEntriesNotKept: Int

    public init(facts: ConnectionFacts, diagnosis: ConnectionDiagnosis, timeline: [TimelineEntry], timelineEntriesNotKept: Int) {
        self.facts = facts
        self.diagnosis = diagnosis
        self.timeline = timeline
        self.timelineEntriesNotKept = timelineEntriesNotKept
    }
}

/// Feeds reassembled TCP streams to one `ConnectionAnalyzer` per connection, diagnoses each
/// when it ends, and hands finished WebSocket connections on in the order they opened.
///
/// A connection is handed on once it has ended and every connection opened before it
/// has been handed on (or skipped as not WebSocket), so output order never depends on
/// which connection closed first.
public final class ReplaySession: TCPStreamDelegate {
    public let configuration: AnalyzerConfiguration
    /// Server ports named by the user: connections to them whose handshake was not
    /// captured are searched for frames.
    public let webSocketPorts: Set<UInt16>
    /// TCP connections that carried no WebSocket upgrade or frames.
    public private(set) var otherConnections = 0
    public private(set) var webSocketConnections = 0

    public let rules: RuleSet
    private let onConnection: (FinishedConnection) -> Void
    private var correlator = CloseCorrelator()
    /// A reference to each analyzer, so feeding one mutates it in place instead of moving
    /// the whole analyzer out of the dictionary and back for every segment.
    private final class AnalyzerBox {
        var analyzer: ConnectionAnalyzer
        /// Set when the connection ends, in the order connections end.
        var diagnosis: ConnectionDiagnosis?
        /// Counted in `finishedWaiting`.
        var counted = false
        /// `onHandshakeAnswered` was called.
        var announced = false
        init(_ analyzer: ConnectionAnalyzer) { self.analyzer = analyzer }
    }

    private var analyzers: [TCPConnectionID: AnalyzerBox] = [:]
    /// Connections whose sides were guessed from port numbers and not yet confirmed by data.
    private var unconfirmedSides: Set<TCPConnectionID> = []
    /// Connections whose guessed sides turned out the wrong way round.
    private var swappedSides: Set<TCPConnectionID> = []
    /// Connection ids in the order they opened; `nextToReport` indexes into it.
    private var openOrder: [TCPConnectionID] = []
    private var nextToReport = 0
    private var opened = 0
    /// Finished connections not yet handed on because one opened before them is still open.
    private var finishedWaiting = 0
    /// Bound on `finishedWaiting`. 10,000 finished connections are tens of MiB of facts;
    /// past it, reporting order gives way to bounded memory.
    public var maxFinishedWaiting = 10_000
    /// Hand each connection on as soon as it ends, not in the order connections opened: a
    /// live capture reports closes as they happen, and one long-lived connection must not
    /// hold back the rest. Set before the first packet.
    public var handsOnAsTheyEnd = false
    /// Called once per connection when the server has answered its upgrade request, for a
    /// live view that shows connections as they open.
    public var onHandshakeAnswered: ((ConnectionFacts) -> Void)?
    /// The latest time any event carried.
    private var latest = Timestamp(nanoseconds: 0)

    public init(configuration: AnalyzerConfiguration = AnalyzerConfiguration(), rules: RuleSet = .defaults(),
                webSocketPorts: Set<UInt16> = [], onConnection: @escaping (FinishedConnection) -> Void) {
        self.configuration = configuration
        self.rules = rules
        self.webSocketPorts = webSocketPorts
        self.onConnection = onConnection
    }

    public func connectionOpened(_ id: TCPConnectionID, client: Endpoint, server: Endpoint, at time: Timestamp,
                                 sawSYN: Bool, sidesGuessed: Bool) {
        latest = max(latest, time)
        var config = configuration
        config.decoder.assumeWebSocket = !sawSYN && webSocketPorts.contains(server.port)
        let facts = ConnectionFacts(id: opened, client: client, server: server, opened: time, sawTCPOpen: sawSYN, sidesGuessed: sidesGuessed)
        opened += 1
        analyzers[id] = AnalyzerBox(ConnectionAnalyzer(facts: facts, configuration: config))
        if !handsOnAsTheyEnd { openOrder.append(id) }
        if sidesGuessed { unconfirmedSides.insert(id) }
    }

    public func received(_ id: TCPConnectionID, from side: Side, bytes: UnsafeRawBufferPointer, at time: Timestamp) {
        latest = max(latest, time)
        if unconfirmedSides.contains(id) { confirmSides(id, firstBytesFrom: side, bytes) }
        guard let box = analyzers[id] else { return }
        box.analyzer.received(bytes, from: actual(side, id), at: time)
        if let onHandshakeAnswered, !box.announced, box.analyzer.facts.handshake?.status != nil {
            box.announced = true
            onHandshakeAnswered(box.analyzer.facts)
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
        let open = handsOnAsTheyEnd ? analyzers.keys.sorted() : Array(openOrder[nextToReport...])
        for id in open {
            guard analyzers[id] != nil else { continue }
            analyzers[id]!.analyzer.sourceEnded(at: time)
            flushIfDone(id)
        }
        flush()
    }

    private func flushIfDone(_ id: TCPConnectionID) {
        if let box = analyzers[id], box.analyzer.isFinished, !box.counted {
            box.counted = true
            finishedWaiting += 1
            if box.diagnosis == nil { diagnose(box) }
            if handsOnAsTheyEnd { handOn(id, box) }
        }
        if openOrder.indices.contains(nextToReport), openOrder[nextToReport] == id { flush() }
    }

    /// Diagnoses a connection as it ends, so closes are correlated in the order they happen.
    private func diagnose(_ box: AnalyzerBox) {
        let facts = box.analyzer.facts
        guard facts.carriesWebSocket || facts.handshake != nil else { return }
        let wave = correlator.record(facts)
        box.diagnosis = rules.diagnose(FactContext(facts: facts, waveSize: wave))
    }

    private func flush() {
        while nextToReport < openOrder.count {
            let id = openOrder[nextToReport]
            guard let box = analyzers[id] else {
                nextToReport += 1
                continue
            }
            guard box.analyzer.isFinished else { break }
            nextToReport += 1
            handOn(id, box)
        }
        if finishedWaiting > maxFinishedWaiting { flushOutOfOrder() }
        // Keep the order list from growing without bound over long captures.
        if nextToReport > 4096 && nextToReport * 2 > openOrder.count {
            openOrder.removeFirst(nextToReport)
            nextToReport = 0
        }
    }

    /// A long-lived connection must not hold every later one in memory: past the bound,
    /// finished connections are handed on before the open ones that precede them.
    private func flushOutOfOrder() {
        for id in openOrder[nextToReport...] {
            if let box = analyzers[id], box.analyzer.isFinished { handOn(id, box) }
        }
    }

    private func handOn(_ id: TCPConnectionID, _ box: AnalyzerBox) {
        analyzers[id] = nil
        if box.counted { finishedWaiting -= 1 }
        if let diagnosis = box.diagnosis {
            webSocketConnections += 1
            let analyzer = box.analyzer
            onConnection(FinishedConnection(facts: analyzer.facts, diagnosis: diagnosis, timeline: analyzer.timeline,
                                            timelineEntriesNotKept: analyzer.timelineEntriesNotKept))
        } else {
            otherConnections += 1
        }
    }
}
