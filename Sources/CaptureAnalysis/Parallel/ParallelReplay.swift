import Capture
import Diagnosis
import Foundation
import WebSocketWire

/// Replays a capture with connections decoded on several worker threads, handing on
/// exactly what a single-threaded ``ReplaySession`` would, in the same order.
///
/// A reader thread reads, decodes and reassembles packets (``CaptureFileFeeder``) and
/// hands each connection's stream events to one worker (``ReplayDemultiplexer``). Workers
/// decode their connections and diagnose and render each as it ends (``ReplayWorker``,
/// ``PreparedReport``). The calling thread merges the workers' outcomes chunk by chunk in
/// capture order into the session's one ``Diagnoser``, which correlates closes, remembers
/// upgraded servers and orders the reports as it always does, diagnosing again only a
/// connection whose wave changes its diagnosis.
struct ParallelReplay {
    /// Chunks waiting between the reader and each worker, and between each worker and the
    /// merger: enough to keep every thread busy through uneven chunks, and with
    /// ``ReplayDemultiplexer/chunkBytes`` a few MiB per worker at most.
    static let queueDepth = 4
    /// More workers than this are refused: each holds its connections and two queues.
    static let maxWorkers = 256

    let session: ReplaySession
    let workers: Int
    /// Chunk limits (``ReplayDemultiplexer/chunkEvents``, ``ReplayDemultiplexer/chunkBytes``);
    /// tests make them tiny so that every event boundary is a chunk boundary.
    let chunkEvents: Int
    let chunkBytes: Int

    init(session: ReplaySession, workers: Int, chunkEvents: Int = ReplayDemultiplexer.chunkEvents,
         chunkBytes: Int = ReplayDemultiplexer.chunkBytes) {
        self.session = session
        self.workers = min(max(1, workers), Self.maxWorkers)
        self.chunkEvents = chunkEvents
        self.chunkBytes = chunkBytes
    }

    /// What the reader thread ends with, read by the merger after every queue is closed.
    private final class ReaderResult: @unchecked Sendable {
        // Written by the reader before it closes the queues, read by the merger after.
        var statistics = CaptureStatistics()
        var error: CaptureError?
    }

    /// The feeder moves to the reader thread and is used only there.
    private struct FeederHandOver: @unchecked Sendable {
        let feeder: CaptureFileFeeder
    }

    func run(_ feeder: CaptureFileFeeder) -> (statistics: CaptureStatistics, error: CaptureError?) {
        let inputs = (0..<workers).map { _ in BoundedQueue<ReplayBatch>(capacity: Self.queueDepth) }
        let outputs = (0..<workers).map { _ in BoundedQueue<[ReplayOutcome]>(capacity: Self.queueDepth) }
        let result = ReaderResult()
        let configuration = session.configuration, webSocketPorts = session.webSocketPorts
        let rules = session.rules, render = session.render
        let chunkEvents = chunkEvents, chunkBytes = chunkBytes

        for index in 0..<workers {
            let input = inputs[index], output = outputs[index]
            Thread.detachNewThread {
                var worker = ReplayWorker(configuration: configuration, webSocketPorts: webSocketPorts, rules: rules, render: render)
                while let batch = input.pop() { output.push(worker.process(batch)) }
                output.close()
            }
        }
        let handOver = FeederHandOver(feeder: feeder)
        Thread.detachNewThread {
            let demultiplexer = ReplayDemultiplexer(workers: inputs.count, chunkEvents: chunkEvents, chunkBytes: chunkBytes) {
                inputs[$0].push($1)
            }
            do throws(CaptureError) {
                try handOver.feeder.run(delegate: demultiplexer)
            } catch {
                result.error = error
            }
            demultiplexer.finishAll()
            result.statistics = handOver.feeder.statistics
            for input in inputs { input.close() }
        }

        merge(outputs)
        // As the single-threaded finishAll: what is still held for an unknown server is given up.
        session.diagnoser.sourceEnded()
        return (result.statistics, result.error)
    }

    /// Takes chunk k from every worker, then applies its outcomes in capture order.
    private func merge(_ outputs: [BoundedQueue<[ReplayOutcome]>]) {
        var tickets: [TCPConnectionID: Diagnoser.Ticket] = [:]
        while true {
            var chunk: [ReplayOutcome] = []
            for output in outputs {
                // Every worker gets every chunk, so all run out together.
                guard let part = output.pop() else { return }
                chunk.append(contentsOf: part)
            }
            // Sorted by key, not by moving the outcomes: an ended one carries a whole analyzer.
            let keys = chunk.map(ReplayOutcome.captureOrderKey)
            for index in chunk.indices.sorted(by: { keys[$0] < keys[$1] }) {
                let outcome = chunk[index]
                switch outcome.kind {
                case .opened:
                    tickets[outcome.connection] = session.diagnoser.opened()
                case let .upgradeAnswered(facts):
                    session.upgradeAnswered(facts)
                case let .ended(analyzer, prepared):
                    guard let ticket = tickets.removeValue(forKey: outcome.connection) else { continue }
                    for report in session.diagnoser.ended(ticket, analyzer, prepared: prepared) { session.onConnection(report) }
                }
            }
        }
    }
}
