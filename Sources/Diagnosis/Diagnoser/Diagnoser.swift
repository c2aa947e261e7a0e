import WebSocketWire

/// The one step from an ended connection to its report, whatever fed it (a capture file, an
/// interface, the proxy): whether it is reported, its diagnosis, and in what order.
///
/// A value-type state machine. A feeder calls `opened` when a connection begins and `ended`
/// when it is over, and hands on the reports each call returns, in the order returned. The
/// proxy keeps one behind a lock for all its event loops. Closes are correlated (restart
/// waves) in the order connections end, whatever the report order.
public struct Diagnoser: Sendable {
    public enum ReportOrder: Sendable {
        /// In the order connections opened (replay): the output never depends on which
        /// connection closed first.
        case opening
        /// As each connection ends (live): a long-lived connection holds back nothing.
        case ending
    }

    /// A connection's place in the report order, given when it opens.
    public struct Ticket: Sendable, Hashable {
        fileprivate let index: Int
    }

    public let rules: RuleSet
    public let order: ReportOrder
    /// Server ports the user named as WebSocket (`--ws-port`).
    public let webSocketPorts: Set<UInt16>
    /// Bound on finished connections held back behind one opened earlier that is still
    /// open. 10,000 finished connections are tens of MiB of facts; past it, report order
    /// gives way to bounded memory.
    public let maxFinishedWaiting: Int
    /// Servers that answered an upgrade with 101, remembered up to this many: a connection
    /// to one of them that never upgraded is still worth a report (a client that connected
    /// and said nothing, or sent garbage). 4,096 servers are a few hundred KiB.
    public static let knownServerCapacity = 4096
    /// Ended connections held until their server is known to speak WebSocket: at most this
    /// many, the oldest given up first (not reported). 1,000 connections that never upgraded
    /// hold little (no frames) — a few MiB at most.
    public static let undecidedCapacity = 1000

    /// Connections reported, those of them that upgraded to WebSocket, and connections ended
    /// that were not worth a report.
    public private(set) var reported = 0
    public private(set) var upgraded = 0
    public private(set) var notReported = 0

    private var correlator: CloseCorrelator
    private var knownServers: Set<Endpoint> = []
    private var nextIndex = 0
    /// Opening order: the next ticket due; those before it are all handed on.
    private var nextDue = 0
    /// Opening order: finished connections waiting for an earlier one to end.
    private var waiting: [Int: FinishedConnection] = [:]
    /// Opening order: tickets past `nextDue` already handed on (or not reported).
    private var done: Set<Int> = []
    /// Ended connections worth a report only if their server turns out to speak WebSocket,
    /// in the order they ended.
    private var undecided: [Undecided] = []

    private struct Undecided: Sendable {
        var ticket: Ticket
        var facts: ConnectionFacts
        var timeline: [TimelineEntry]
        var timelineEntriesNotKept: Int
        var timelineGap: Int?
        var prepared: PreparedReport?
    }

    public init(rules: RuleSet = .defaults(), order: ReportOrder, webSocketPorts: Set<UInt16> = [],
                maxFinishedWaiting: Int = 10_000) {
        self.rules = rules
        self.order = order
        self.webSocketPorts = webSocketPorts
        self.maxFinishedWaiting = maxFinishedWaiting
        self.correlator = CloseCorrelator(window: rules.settings.closeCorrelationWindow)
    }

    /// A connection began.
    public mutating func opened() -> Ticket {
        defer { nextIndex += 1 }
        return Ticket(index: nextIndex)
    }

    /// The server answered a connection's upgrade request. Returns the reports this makes
    /// due: connections to that server that ended earlier without trying to upgrade (a client
    /// that said nothing, or sent garbage), held until now. In opening order each takes its
    /// place, unless the reports after it have already been handed on.
    @discardableResult
    public mutating func upgradeAnswered(_ facts: ConnectionFacts) -> [FinishedConnection] {
        guard facts.handshake?.status == 101, knownServers.count < Self.knownServerCapacity else { return [] }
        knownServers.insert(facts.server)
        guard undecided.contains(where: { $0.facts.server == facts.server }) else { return [] }
        var due: [FinishedConnection] = []
        var stillHeld: [Undecided] = []
        for held in undecided {
            guard held.facts.server == facts.server else {
                stillHeld.append(held)
                continue
            }
            let finished = report(held.facts, timeline: held.timeline, timelineEntriesNotKept: held.timelineEntriesNotKept,
                                  timelineGap: held.timelineGap, prepared: held.prepared)
            switch order {
            case .opening where held.ticket.index >= nextDue:
                done.remove(held.ticket.index)
                waiting[held.ticket.index] = finished
            case .opening, .ending:
                due.append(finished)
            }
        }
        undecided = stillHeld
        return order == .opening ? due + dueReports() : due
    }

    /// The source is exhausted (the end of a capture, or a live capture stopped): connections
    /// still held were to servers never seen to upgrade, so they are not reported.
    public mutating func sourceEnded() {
        notReported += undecided.count
        undecided.removeAll()
    }

    /// A connection ended (`analyzer.isFinished`). Returns the reports now due, in order.
    ///
    /// - Parameters:
    ///   - toWebSocketServer: the feeder knows the server speaks WebSocket (the proxy's
    ///     upstream), so even a connection that never tried to upgrade is reported.
    ///   - prepared: the connection's ``PreparedReport``, if one was made; used where it holds.
    public mutating func ended(_ ticket: Ticket, _ analyzer: ConnectionAnalyzer, toWebSocketServer: Bool = false,
                               prepared: PreparedReport? = nil) -> [FinishedConnection] {
        let facts = analyzer.facts
        let known = toWebSocketServer || webSocketPorts.contains(facts.server.port) || knownServers.contains(facts.server)
        var report: FinishedConnection?
        if Self.isWorthReporting(facts, toKnownWebSocketServer: known) {
            report = self.report(facts, timeline: analyzer.timeline, timelineEntriesNotKept: analyzer.timelineEntriesNotKept,
                                 timelineGap: analyzer.timelineGap, prepared: prepared)
        } else if Self.isWorthReporting(facts, toKnownWebSocketServer: true) {
            // The server may yet answer an upgrade; the report order gives way for this one.
            hold(Undecided(ticket: ticket, facts: facts, timeline: analyzer.timeline, timelineEntriesNotKept: analyzer.timelineEntriesNotKept,
                           timelineGap: analyzer.timelineGap, prepared: prepared))
        } else {
            notReported += 1
        }
        switch order {
        case .ending:
            return report.map { [$0] } ?? []
        case .opening:
            if let report { waiting[ticket.index] = report } else { done.insert(ticket.index) }
            return dueReports()
        }
    }

    private mutating func report(_ facts: ConnectionFacts, timeline: [TimelineEntry], timelineEntriesNotKept: Int,
                                 timelineGap: Int?, prepared: PreparedReport?) -> FinishedConnection {
        let waveSize = correlator.record(facts)
        reported += 1
        if facts.carriesWebSocket { upgraded += 1 }
        if let prepared, prepared.holds(forWaveSize: waveSize) {
            return FinishedConnection(facts: facts, diagnosis: prepared.diagnosis, timeline: timeline, timelineEntriesNotKept: timelineEntriesNotKept,
                                      timelineGap: timelineGap, rendered: prepared.rendered)
        }
        var context = FactContext(facts: facts, waveSize: waveSize)
        context.correlationWindow = correlator.window
        return FinishedConnection(facts: facts, diagnosis: rules.diagnose(context), timeline: timeline,
                                  timelineEntriesNotKept: timelineEntriesNotKept, timelineGap: timelineGap)
    }

    private mutating func hold(_ connection: Undecided) {
        if undecided.count >= Self.undecidedCapacity {
            undecided.removeFirst()
            notReported += 1
        }
        undecided.append(connection)
    }

    /// What is reported: every connection that upgraded or tried to, and, to a server known
    /// to speak WebSocket, every other one except plain HTTP exchanges that went well (those
    /// and other protocols in a capture are not wsdoctor's business).
    public static func isWorthReporting(_ facts: ConnectionFacts, toKnownWebSocketServer known: Bool) -> Bool {
        if facts.carriesWebSocket || facts.handshake != nil { return true }
        guard known else { return false }
        let plainHTTPWentWell = facts.httpRequestsBeforeUpgrade > 0 && facts.upstreamError == nil
            && facts.undecodable.isEmpty && facts.violations.isEmpty
        return !plainHTTPWentWell
    }

    private mutating func dueReports() -> [FinishedConnection] {
        var due: [FinishedConnection] = []
        while true {
            if let report = waiting.removeValue(forKey: nextDue) {
                due.append(report)
            } else if done.remove(nextDue) == nil {
                break
            }
            nextDue += 1
        }
        if waiting.count > maxFinishedWaiting {
            // One long-lived connection must not hold every later one in memory.
            for index in waiting.keys.sorted() {
                due.append(waiting[index]!)
                done.insert(index)
            }
            waiting.removeAll()
        }
        return due
    }
}
