import Capture
import Diagnosis
import WebSocketWire

/// Decodes the connections the reader gives one worker thread, prepares the report of each
/// that ends, and says what the ``Diagnoser`` must hear of them.
struct ReplayWorker {
    let configuration: AnalyzerConfiguration
    let webSocketPorts: Set<UInt16>
    /// The session's rules, for ``PreparedReport``.
    let rules: RuleSet
    let render: (@Sendable (FinishedConnection) -> String)?

    /// A reference to each connection, so feeding one mutates it in place.
    private final class Slot {
        var connection: ReplayedConnection
        init(_ connection: ReplayedConnection) { self.connection = connection }
    }

    private var connections: [TCPConnectionID: Slot] = [:]

    init(configuration: AnalyzerConfiguration, webSocketPorts: Set<UInt16>, rules: RuleSet,
         render: (@Sendable (FinishedConnection) -> String)?) {
        self.configuration = configuration
        self.webSocketPorts = webSocketPorts
        self.rules = rules
        self.render = render
    }

    /// Feeds `batch` in order; returns its outcomes in capture order.
    mutating func process(_ batch: ReplayBatch) -> [ReplayOutcome] {
        var outcomes: [ReplayOutcome] = []
        batch.bytes.withUnsafeBytes { bytes in
            for entry in batch.entries { apply(entry, bytes: bytes, into: &outcomes) }
        }
        if let finish = batch.finishAll {
            for id in connections.keys.sorted() {
                connections[id]?.connection.sourceEnded(at: finish.at)
                endIfDone(id, sequence: finish.sequence, into: &outcomes)
            }
        }
        return outcomes
    }

    private mutating func apply(_ entry: ReplayBatch.Entry, bytes: UnsafeRawBufferPointer, into outcomes: inout [ReplayOutcome]) {
        let id = entry.connection
        switch entry.event {
        case let .opened(number, client, server, time, sawSYN, sidesGuessed):
            connections[id] = Slot(ReplayedConnection(number: number, client: client, server: server, at: time, sawSYN: sawSYN,
                                                      sidesGuessed: sidesGuessed, configuration: configuration,
                                                      webSocketPorts: webSocketPorts))
            outcomes.append(ReplayOutcome(sequence: entry.sequence, connection: id, kind: .opened))
        case let .received(side, range, time):
            guard let slot = connections[id] else { return }
            if slot.connection.received(UnsafeRawBufferPointer(rebasing: bytes[range]), from: side, at: time) {
                outcomes.append(ReplayOutcome(sequence: entry.sequence, connection: id, kind: .upgradeAnswered(slot.connection.analyzer.facts)))
            }
        case let .gap(side, missing, time):
            connections[id]?.connection.gap(from: side, missing: missing, at: time)
        case let .finished(side, time):
            connections[id]?.connection.finished(from: side, at: time)
            endIfDone(id, sequence: entry.sequence, into: &outcomes)
        case let .reset(side, time):
            connections[id]?.connection.reset(from: side, at: time)
            endIfDone(id, sequence: entry.sequence, into: &outcomes)
        case let .captureEnded(time):
            connections[id]?.connection.sourceEnded(at: time)
            endIfDone(id, sequence: entry.sequence, into: &outcomes)
        case let .stoppedTracking(time):
            connections[id]?.connection.trackingExpired(at: time)
            endIfDone(id, sequence: entry.sequence, into: &outcomes)
        }
    }

    private mutating func endIfDone(_ id: TCPConnectionID, sequence: Int, into outcomes: inout [ReplayOutcome]) {
        guard let slot = connections[id], slot.connection.isFinished else { return }
        connections[id] = nil
        let analyzer = slot.connection.analyzer
        let prepared = PreparedReport.prepare(analyzer, rules: rules, render: render)
        outcomes.append(ReplayOutcome(sequence: sequence, connection: id, kind: .ended(analyzer, prepared)))
    }
}
