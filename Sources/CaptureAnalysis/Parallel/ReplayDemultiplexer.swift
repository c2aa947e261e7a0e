import Capture
import WebSocketWire

/// Runs on the reader thread: takes the reassembled streams and hands each connection's
/// events to one worker, in chunks.
///
/// Every chunk goes to every worker (possibly empty), so the merger can take chunk k from
/// each worker and know it has every outcome of that stretch of the capture.
final class ReplayDemultiplexer: TCPStreamDelegate {
    /// A chunk is handed on once it carries this many events: small enough that workers
    /// start early, large enough that the per-chunk hand-over costs nothing per event.
    static let chunkEvents = 4096
    /// Or once it carries this many bytes of stream data (a worker's batch may exceed it by
    /// one delivery, which the reassembler bounds).
    static let chunkBytes = 1 << 20

    private let workers: Int
    private let chunkEvents: Int
    private let chunkBytes: Int
    private let send: (_ worker: Int, ReplayBatch) -> Void
    private var batches: [ReplayBatch]
    private var sequence = 0
    private var eventsInChunk = 0
    private var bytesInChunk = 0
    private var opened = 0
    /// The latest time any event carried (connections still open end at it).
    private var latest = Timestamp(nanoseconds: 0)

    /// - Parameter send: hands a worker its batch; may wait for room.
    init(workers: Int, chunkEvents: Int = chunkEvents, chunkBytes: Int = chunkBytes, send: @escaping (_ worker: Int, ReplayBatch) -> Void) {
        self.workers = workers
        self.chunkEvents = max(1, chunkEvents)
        self.chunkBytes = max(1, chunkBytes)
        self.send = send
        batches = Array(repeating: ReplayBatch(), count: workers)
    }

    /// Connections are numbered in opening order, so this spreads them evenly.
    private func worker(for id: TCPConnectionID) -> Int { id.rawValue % workers }

    private func add(_ id: TCPConnectionID, _ event: ReplayBatch.Event) {
        batches[worker(for: id)].entries.append(ReplayBatch.Entry(sequence: sequence, connection: id, event: event))
        sequence += 1
        eventsInChunk += 1
        if eventsInChunk >= chunkEvents || bytesInChunk >= chunkBytes { handOn() }
    }

    private func handOn() {
        for index in 0..<workers {
            let sent = batches[index]
            send(index, sent)
            // Room for as much as the last one held: growing by doubling copies every byte again.
            batches[index] = ReplayBatch(reservingEntries: sent.entries.count, bytes: sent.bytes.count)
        }
        eventsInChunk = 0
        bytesInChunk = 0
    }

    /// The source is exhausted: every worker ends the connections it still has, and the
    /// last chunk is handed on.
    func finishAll() {
        for index in 0..<workers { batches[index].finishAll = (sequence, latest) }
        sequence += 1
        handOn()
    }

    func connectionOpened(_ id: TCPConnectionID, client: Endpoint, server: Endpoint, at time: Timestamp, sawSYN: Bool, sidesGuessed: Bool) {
        latest = max(latest, time)
        add(id, .opened(number: opened, client: client, server: server, at: time, sawSYN: sawSYN, sidesGuessed: sidesGuessed))
        opened += 1
    }

    func received(_ id: TCPConnectionID, from side: Side, bytes: UnsafeRawBufferPointer, at time: Timestamp) {
        latest = max(latest, time)
        let index = worker(for: id)
        let start = batches[index].bytes.count
        batches[index].bytes.append(contentsOf: bytes)
        bytesInChunk += bytes.count
        add(id, .received(side, bytes: start..<(start + bytes.count), at: time))
    }

    func gap(_ id: TCPConnectionID, from side: Side, missingBytes: Int64, at time: Timestamp) {
        add(id, .gap(side, missing: missingBytes, at: time))
    }

    func finished(_ id: TCPConnectionID, from side: Side, at time: Timestamp) {
        add(id, .finished(side, at: time))
    }

    func reset(_ id: TCPConnectionID, from side: Side, at time: Timestamp) {
        add(id, .reset(side, at: time))
    }

    func captureEnded(_ id: TCPConnectionID, at time: Timestamp) {
        latest = max(latest, time)
        add(id, .captureEnded(at: time))
    }

    func stoppedTracking(_ id: TCPConnectionID, lastSegmentAt: Timestamp, at time: Timestamp) {
        latest = max(latest, time)
        add(id, .stoppedTracking(at: time))
    }
}
