import Capture
import WebSocketWire
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes what a proxy relayed as a classic pcap file that `wsdoctor replay` reads back
/// to the same connections, bytes, timestamps and TCP endings.
///
/// The caller reports each connection's life — ``opened(connection:client:server:at:)``,
/// ``data(connection:from:bytes:at:)``, ``finished(connection:from:at:)``,
/// ``reset(connection:from:at:)`` — and the recorder synthesises the TCP segments a
/// capture of it would hold: SYN, SYN-ACK, ACK; PSH|ACK segments of at most
/// ``maxSegmentPayload`` bytes with continuous sequence numbers; FIN|ACK and the
/// peer's ACK; RST|ACK. Each segment acknowledges all the peer sent, and a pure ACK
/// from the peer follows every 1 MiB sent one way without an answer. Packets are
/// Ethernet (link type `EN10MB`) with IPv4, or IPv6 when either address contains
/// `:`, and carry correct lengths and checksums; timestamps are nanoseconds.
///
/// Sequence numbers start from fixed ISNs (client 1000, server 5000), so recording
/// the same calls twice gives the same file. A connection's packets never go back in
/// time: a call with an earlier timestamp than one already written for the same
/// connection is written at the later time. Calls for a connection that is not
/// being recorded (never opened, skipped, already ended) are ignored and counted in
/// ``Statistics/eventsIgnored``.
///
/// Thread safety: every call takes one lock for its whole duration, so packets of one
/// call are contiguous in the file and calls from several event loops interleave only
/// between calls. That lock guards all mutable state, which is why the class is
/// `@unchecked Sendable`: the compiler cannot see a `pthread_mutex_t` guard.
/// (`Mutex` from `Synchronization` would let it, but needs macOS 15 and the package
/// supports macOS 13.)
public final class CaptureRecorder: @unchecked Sendable {
    /// What the recorder wrote and skipped so far.
    public struct Statistics: Sendable, Hashable {
        /// Connections whose handshake was written.
        public var connectionsRecorded = 0
        /// Recorded connections not yet ended by two FINs or a RST.
        public var openConnections = 0
        /// Connections not written because ``CaptureRecorder/maxConnections`` were open.
        public var connectionsOverLimit = 0
        /// Connections not written because an address is not numeric IPv4/IPv6, or because
        /// their addresses and ports are those of a recorded connection still open (a
        /// reader could not tell the two apart).
        public var connectionsUnaddressable = 0
        /// Calls ignored: about connections not being recorded, a second `opened` for an
        /// open connection, data or FIN from a side after its FIN, and calls after ``CaptureRecorder/close()``.
        public var eventsIgnored = 0
        public var packetsWritten = 0
        /// TCP payload bytes written, both directions.
        public var payloadBytesWritten: Int64 = 0

        public init() {}
    }

    /// Default bound on open recorded connections: 100,000, the same as
    /// ``TCPReassembler/Configuration/defaultMaxConnections`` so that every recorded
    /// connection fits a reader with default limits. Each open connection costs about
    /// 200 bytes (its sequence state and 4-tuple), so the full table is about 20 MB.
    public static let defaultMaxConnections = 100_000
    /// The largest segment payload: 65,000 keeps an IPv4 total length (payload plus
    /// 40 bytes of headers) under its 65,535 limit with room to spare.
    public static let largestSegmentPayload = 65_000

    /// The file being written.
    public let path: String
    /// Open connections tracked at once; a connection opened past it is skipped and
    /// counted in ``Statistics/connectionsOverLimit``, and its later calls are ignored.
    public let maxConnections: Int
    /// Payload bytes per data segment; a larger `data` call is split.
    public let maxSegmentPayload: Int

    private let lock: UnsafeMutablePointer<pthread_mutex_t>
    // Everything below is guarded by `lock`.
    private var writer: PacketWriter?
    private var connections: [Int: RecordedConnection] = [:]
    private var flowsInUse: Set<RecordedFlow.Key> = []
    private var counters = Statistics()
    private var firstWriteFailure: String?

    /// Creates (truncating) the pcap file at `path`.
    ///
    /// - Parameters:
    ///   - maxConnections: bound on open recorded connections (at least 1); see ``defaultMaxConnections``.
    ///   - maxSegmentPayload: payload bytes per segment, clamped to 1...``largestSegmentPayload``.
    /// - Throws: ``RecordingError`` with reason `cannotOpen`, naming `path`, if the file cannot be created.
    public init(path: String, maxConnections: Int = CaptureRecorder.defaultMaxConnections,
                maxSegmentPayload: Int = CaptureRecorder.largestSegmentPayload) throws(RecordingError) {
        self.path = path
        self.maxConnections = max(1, maxConnections)
        self.maxSegmentPayload = min(max(1, maxSegmentPayload), Self.largestSegmentPayload)
        self.writer = try PacketWriter(path: path, maxPayload: self.maxSegmentPayload)
        self.lock = .allocate(capacity: 1)
        pthread_mutex_init(lock, nil)
    }

    deinit {
        _ = writer?.close()
        pthread_mutex_destroy(lock)
        lock.deallocate()
    }

    /// What was written and skipped so far.
    public var statistics: Statistics {
        locked { counters }
    }

    /// Writes the opening handshake (SYN, SYN-ACK, ACK) of `connection`, an id the caller
    /// chooses and uses in later calls; ids may be reused once a connection has ended.
    public func opened(connection: Int, client: Endpoint, server: Endpoint, at time: Timestamp) {
        locked {
            guard let writer, connections[connection] == nil else {
                counters.eventsIgnored += 1
                return
            }
            guard connections.count < maxConnections else {
                counters.connectionsOverLimit += 1
                return
            }
            guard let flow = RecordedFlow(client: client, server: server), !flowsInUse.contains(flow.key) else {
                counters.connectionsUnaddressable += 1
                return
            }
            connections[connection] = RecordedConnection(flow: flow, at: time)
            flowsInUse.insert(flow.key)
            counters.connectionsRecorded += 1
            counters.openConnections += 1
            for segment in RecordedConnection.handshake {
                write(segment, of: flow, at: time, with: writer)
            }
        }
    }

    /// Writes `bytes` sent by `side` as one or more PSH|ACK segments. Empty data writes nothing.
    public func data(connection: Int, from side: Side, bytes: UnsafeRawBufferPointer, at time: Timestamp) {
        locked {
            guard let writer, var state = connections[connection], !state.hasFinished(side) else {
                counters.eventsIgnored += 1
                return
            }
            let time = state.time(time)
            var offset = 0
            while offset < bytes.count {
                let count = min(maxSegmentPayload, bytes.count - offset)
                if state.needsAcknowledgment(of: side, before: count) {
                    write(state.acknowledgment(of: side), of: state.flow, at: time, with: writer)
                }
                let payload = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
                write(state.data(from: side, count: count), of: state.flow, payload: payload, at: time, with: writer)
                counters.payloadBytesWritten += Int64(count)
                offset += count
            }
            connections[connection] = state
        }
    }

    /// Writes `side`'s FIN|ACK and the peer's ACK of it; after both sides' FINs the connection ends.
    public func finished(connection: Int, from side: Side, at time: Timestamp) {
        locked {
            guard let writer, var state = connections[connection], !state.hasFinished(side) else {
                counters.eventsIgnored += 1
                return
            }
            let time = state.time(time)
            write(state.fin(from: side), of: state.flow, at: time, with: writer)
            write(state.acknowledgment(of: side), of: state.flow, at: time, with: writer)
            if state.isFinished {
                end(connection, state.flow, writer)
            } else {
                connections[connection] = state
            }
        }
    }

    /// Writes a RST|ACK from `side`, which ends the connection.
    public func reset(connection: Int, from side: Side, at time: Timestamp) {
        locked {
            guard let writer, var state = connections[connection] else {
                counters.eventsIgnored += 1
                return
            }
            write(state.reset(from: side), of: state.flow, at: state.time(time), with: writer)
            end(connection, state.flow, writer)
        }
    }

    /// Writes buffered packets to the file.
    ///
    /// The recorder also flushes whenever a connection ends, so the file on disk always
    /// holds every ended connection whole.
    /// - Throws: ``RecordingError`` with reason `writeFailed` if this or an earlier flush failed.
    public func flush() throws(RecordingError) {
        let failure: String? = locked {
            if let detail = writer?.flush(), firstWriteFailure == nil { firstWriteFailure = detail }
            return firstWriteFailure
        }
        if let failure { throw .writeFailed(path, detail: failure) }
    }

    /// Flushes and closes the file. Connections still open stay open in it (a replay
    /// reports them as ended by the end of the capture). Later calls of any method are ignored.
    /// - Throws: ``RecordingError`` with reason `writeFailed` if a write failed at any point.
    public func close() throws(RecordingError) {
        let failure: String? = locked {
            guard let writer else { return nil }
            if let detail = writer.close(), firstWriteFailure == nil { firstWriteFailure = detail }
            self.writer = nil
            connections.removeAll()
            flowsInUse.removeAll()
            counters.openConnections = 0
            return firstWriteFailure
        }
        if let failure { throw .writeFailed(path, detail: failure) }
    }

    // MARK: - Under the lock

    private func write(_ segment: RecordedConnection.Segment, of flow: RecordedFlow,
                       payload: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
                       at time: Timestamp, with writer: PacketWriter) {
        writer.write(segment, of: flow, payload: payload, at: time)
        counters.packetsWritten += 1
    }

    private func end(_ connection: Int, _ flow: RecordedFlow, _ writer: PacketWriter) {
        connections[connection] = nil
        flowsInUse.remove(flow.key)
        counters.openConnections -= 1
        if let detail = writer.flush(), firstWriteFailure == nil { firstWriteFailure = detail }
    }

    private func locked<Result>(_ body: () -> Result) -> Result {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return body()
    }
}
