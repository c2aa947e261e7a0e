import WebSocketWire

/// Turns TCP segments of many connections into ordered per-direction byte streams.
///
/// Feed segments in capture order with ``process(_:at:)`` and call
/// ``finish(at:)`` at the end of the capture. Events go to the delegate
/// (retained) as they become known; in-order data is passed straight from the
/// segment's buffer without copying. Out-of-order data is copied and held until
/// the hole before it fills, until the per-direction buffer limit is exceeded,
/// until the peer acknowledges bytes the capture never showed, or until the
/// connection ends — then the hole is reported as a gap of its exact size.
/// Not thread-safe.
public final class TCPReassembler {
    /// Limits and hints for ``TCPReassembler``.
    public struct Configuration: Sendable {
        /// Ports that identify the server when a connection's SYN is missing
        /// (the `--ws-port` flag). Default: empty, so the lower port is taken as
        /// the server and the connection is flagged `sidesGuessed`.
        public var serverPorts: Set<UInt16>
        /// Out-of-order bytes held per direction before the oldest hole is given
        /// up as a gap. Default 4 MiB: several windows of a fast link, small
        /// enough that thousands of connections with holes stay in memory.
        public var maxBufferedBytesPerDirection: Int
        /// Open connections tracked at once; segments of further new connections
        /// are dropped and counted in ``Statistics/segmentsRefused``. Default
        /// 100 000, which with empty buffers costs tens of MiB. Closed
        /// connections are remembered (so late ACKs and RSTs do not open ghost
        /// connections) up to the same number, oldest forgotten first.
        public var maxConnections: Int

        public static let defaultMaxBufferedBytesPerDirection = 4 * 1024 * 1024
        public static let defaultMaxConnections = 100_000

        public init(
            serverPorts: Set<UInt16> = [],
            maxBufferedBytesPerDirection: Int = Configuration.defaultMaxBufferedBytesPerDirection,
            maxConnections: Int = Configuration.defaultMaxConnections
        ) {
            self.serverPorts = serverPorts
            self.maxBufferedBytesPerDirection = max(0, maxBufferedBytesPerDirection)
            self.maxConnections = max(1, maxConnections)
        }
    }

    /// Counters of what reassembly saw and gave up on.
    public struct Statistics: Sendable, Hashable {
        public var connectionsOpened = 0
        /// Connections open right now.
        public var openConnections = 0
        /// Gaps reported, and the bytes they stand for.
        public var gaps = 0
        public var missingBytes: Int64 = 0
        /// Bytes dropped because they had already been delivered (retransmissions).
        public var retransmittedBytes: Int64 = 0
        /// Times a direction's out-of-order buffer exceeded its limit.
        public var bufferLimitHits = 0
        /// Segments of already closed connections (late ACKs, duplicate RSTs), ignored.
        public var segmentsAfterClose = 0
        /// Segments dropped because ``Configuration/maxConnections`` were open.
        public var segmentsRefused = 0
        /// Connections given up after a long silence (``expireIdle(before:at:)``).
        public var connectionsExpired = 0

        public init() {}
    }

    public let configuration: Configuration
    public private(set) var statistics = Statistics()

    private let delegate: any TCPStreamDelegate
    private var table: [FlowKey: Connection] = [:]
    /// Closed connections in order of closing, for forgetting the oldest.
    private var closedOrder: [(key: FlowKey, id: TCPConnectionID)] = []
    private var closedOrderHead = 0
    private var lastID = 0

    /// Creates a reassembler that reports to `delegate`, which it retains.
    public init(configuration: Configuration = Configuration(), delegate: any TCPStreamDelegate) {
        self.configuration = configuration
        self.delegate = delegate
    }

    /// Feeds one segment; `timestamp` is its capture time.
    public func process(_ segment: TCPSegment, at timestamp: Timestamp) {
        let key = FlowKey(segment)
        let connection: Connection
        if let existing = table[key], !existing.isClosed {
            connection = existing
        } else {
            let opensNew = segment.flags.contains(.syn) && !segment.flags.contains(.ack)
            if table[key] != nil && !opensNew {
                statistics.segmentsAfterClose += 1
                return
            }
            guard statistics.openConnections < configuration.maxConnections else {
                statistics.segmentsRefused += 1
                return
            }
            connection = open(segment, key: key, at: timestamp)
        }
        let side: Side = segment.source == connection.clientAddress && segment.sourcePort == connection.clientPort
            ? .client : .server
        connection.lastSegmentAt = timestamp
        handle(segment, from: side, on: connection, at: timestamp)
    }

    /// Ends the capture: every open connection, in order of opening, gets its
    /// buffered data (after gaps for the holes), its FIN if one was seen, and
    /// then `captureEnded` unless both sides have finished.
    public func finish(at timestamp: Timestamp) {
        let open = table.values.filter { !$0.isClosed }.sorted { $0.id < $1.id }
        for connection in open {
            flushAll(.client, of: connection, at: timestamp)
            if !connection.isClosed { flushAll(.server, of: connection, at: timestamp) }
            if !connection.isClosed {
                delegate.captureEnded(connection.id, at: timestamp)
                close(connection)
            }
        }
        table.removeAll()
        closedOrder.removeAll()
        closedOrderHead = 0
    }

    /// Gives up on open connections with no segment since `cutoff`, for a live capture that
    /// runs for days: their end was lost (or is hours away) and each holds memory and a slot
    /// of ``Configuration/maxConnections``. Each is flushed and reported with
    /// ``TCPStreamDelegate/stoppedTracking(_:lastSegmentAt:at:)``. Costs one pass over every
    /// tracked connection (open ones and remembered closed ones), so call it every few
    /// seconds, not per packet.
    public func expireIdle(before cutoff: Timestamp, at timestamp: Timestamp) {
        let idle = table.values.filter { !$0.isClosed && $0.lastSegmentAt < cutoff }.sorted { $0.id < $1.id }
        for connection in idle {
            flushAll(.client, of: connection, at: timestamp)
            if !connection.isClosed { flushAll(.server, of: connection, at: timestamp) }
            guard !connection.isClosed else { continue }
            statistics.connectionsExpired += 1
            delegate.stoppedTracking(connection.id, lastSegmentAt: connection.lastSegmentAt, at: timestamp)
            close(connection)
        }
    }

    // MARK: - Connections

    private func open(_ segment: TCPSegment, key: FlowKey, at timestamp: Timestamp) -> Connection {
        let flags = segment.flags
        let sourceIsClient: Bool
        var sidesGuessed = false
        if flags.contains(.syn) {
            sourceIsClient = !flags.contains(.ack)
        } else {
            let sourceListed = configuration.serverPorts.contains(segment.sourcePort)
            let destinationListed = configuration.serverPorts.contains(segment.destinationPort)
            if sourceListed != destinationListed {
                sourceIsClient = destinationListed
            } else {
                sidesGuessed = true
                // Servers usually listen on the lower port; on a tie, the first packet's receiver.
                sourceIsClient = segment.sourcePort >= segment.destinationPort
            }
        }
        lastID += 1
        let connection = Connection(
            id: TCPConnectionID(rawValue: lastID), key: key,
            clientAddress: sourceIsClient ? segment.source : segment.destination,
            clientPort: sourceIsClient ? segment.sourcePort : segment.destinationPort,
            serverAddress: sourceIsClient ? segment.destination : segment.source,
            serverPort: sourceIsClient ? segment.destinationPort : segment.sourcePort,
            openedAt: timestamp
        )
        table[key] = connection
        statistics.connectionsOpened += 1
        statistics.openConnections += 1
        delegate.connectionOpened(
            connection.id,
            client: Endpoint(address: connection.clientAddress.description, port: connection.clientPort),
            server: Endpoint(address: connection.serverAddress.description, port: connection.serverPort),
            at: timestamp, sawSYN: flags.contains(.syn), sidesGuessed: sidesGuessed
        )
        return connection
    }

    private func close(_ connection: Connection) {
        guard !connection.isClosed else { return }
        connection.isClosed = true
        connection.client.discardPending()
        connection.server.discardPending()
        statistics.openConnections -= 1
        closedOrder.append((connection.key, connection.id))
        // Forget the oldest closed connections beyond the limit.
        while closedOrder.count - closedOrderHead > configuration.maxConnections {
            let oldest = closedOrder[closedOrderHead]
            closedOrderHead += 1
            if let entry = table[oldest.key], entry.isClosed, entry.id == oldest.id {
                table.removeValue(forKey: oldest.key)
            }
        }
        if closedOrderHead > 1024 && closedOrderHead * 2 > closedOrder.count {
            closedOrder.removeFirst(closedOrderHead)
            closedOrderHead = 0
        }
    }

    // MARK: - Segments

    private func handle(_ segment: TCPSegment, from side: Side, on connection: Connection, at timestamp: Timestamp) {
        let direction = connection.direction(side)
        let flags = segment.flags
        var dataSequence = segment.sequenceNumber
        if flags.contains(.syn) {
            // SYN takes one sequence number; data (TCP Fast Open) follows it.
            dataSequence &+= 1
            if !direction.started { direction.start(at: dataSequence) }
        } else if !direction.started {
            direction.start(at: dataSequence)
        }

        if flags.contains(.rst) {
            // Payload on a RST is diagnostic text, not stream data.
            reset(connection, from: side, at: timestamp)
            return
        }

        if !direction.finished {
            let start = direction.offset(of: dataSequence)
            if !segment.payload.isEmpty {
                accept(segment.payload, at: start, from: side, on: connection, at: timestamp)
            }
            if flags.contains(.fin) && direction.finOffset == nil {
                let fin = start + Int64(segment.payloadLength)
                // A FIN behind what was delivered is stale; ignore it.
                if fin >= direction.delivered { direction.finOffset = fin }
            }
            deliverFINIfReached(side, of: connection, at: timestamp)
        }
        guard !connection.isClosed else { return }

        // The peer acknowledging bytes the capture never showed means they are lost for good.
        let other = connection.direction(side.peer)
        if flags.contains(.ack) && other.started && !other.finished {
            let acknowledged = other.offset(of: segment.acknowledgmentNumber)
            // An ACK of the FIN counts one past the data.
            let limit = min(acknowledged, other.finOffset ?? acknowledged)
            if limit > other.delivered {
                flush(side.peer, of: connection, upTo: limit, at: timestamp)
                deliverFINIfReached(side.peer, of: connection, at: timestamp)
            }
        }
    }

    /// Delivers or buffers the payload that starts at stream offset `start`.
    private func accept(
        _ payload: UnsafeRawBufferPointer, at start: Int64,
        from side: Side, on connection: Connection, at timestamp: Timestamp
    ) {
        let direction = connection.direction(side)
        var end = start + Int64(payload.count)
        if let fin = direction.finOffset { end = min(end, fin) }
        if end <= direction.delivered {
            statistics.retransmittedBytes += Int64(payload.count)
            return
        }
        // Wholly after a FIN already seen: not part of the stream.
        guard end > start else { return }
        if start > direction.delivered {
            _ = direction.buffer(UnsafeRawBufferPointer(rebasing: payload[0..<Int(end - start)]), at: start)
            enforceBufferLimit(side, of: connection, at: timestamp)
            return
        }
        statistics.retransmittedBytes += direction.delivered - start
        if direction.pending.isEmpty {
            // The usual case: nothing buffered to yield to, so the new bytes go straight on.
            emit(UnsafeRawBufferPointer(rebasing: payload[Int(direction.delivered - start)..<Int(end - start)]), side, connection, timestamp)
            return
        }
        // In order: send new bytes straight from the packet, yielding to bytes
        // buffered earlier where they overlap (first seen wins).
        while true {
            var progressed = false
            if direction.delivered < end {
                let limit = min(end, direction.pending.first?.offset ?? end)
                if limit > direction.delivered {
                    let from = Int(direction.delivered - start)
                    let to = Int(limit - start)
                    emit(UnsafeRawBufferPointer(rebasing: payload[from..<to]), side, connection, timestamp)
                    progressed = true
                }
            }
            if drainPending(side, of: connection, at: timestamp) { progressed = true }
            if !progressed { break }
        }
    }

    /// Delivers buffered entries that the delivery point has reached. Returns whether anything moved.
    @discardableResult
    private func drainPending(_ side: Side, of connection: Connection, at timestamp: Timestamp) -> Bool {
        let direction = connection.direction(side)
        var progressed = false
        var consumed = 0
        while consumed < direction.pending.count && direction.pending[consumed].offset <= direction.delivered {
            let entry = direction.pending[consumed]
            var end = entry.end
            if let fin = direction.finOffset { end = min(end, fin) }
            if end > direction.delivered {
                let from = Int(direction.delivered - entry.offset)
                let to = Int(end - entry.offset)
                entry.bytes.withUnsafeBytes { raw in
                    emit(UnsafeRawBufferPointer(rebasing: raw[from..<to]), side, connection, timestamp)
                }
                progressed = true
            }
            direction.pendingBytes -= entry.bytes.count
            consumed += 1
        }
        if consumed > 0 { direction.pending.removeFirst(consumed) }
        return progressed || consumed > 0
    }

    private func enforceBufferLimit(_ side: Side, of connection: Connection, at timestamp: Timestamp) {
        let direction = connection.direction(side)
        guard direction.pendingBytes > configuration.maxBufferedBytesPerDirection else { return }
        statistics.bufferLimitHits += 1
        while direction.pendingBytes > configuration.maxBufferedBytesPerDirection, let first = direction.pending.first {
            reportGap(side, of: connection, to: first.offset, at: timestamp)
            drainPending(side, of: connection, at: timestamp)
        }
    }

    /// Delivers everything buffered before `limit`, with gaps for the holes, and
    /// a final gap up to `limit` unless it is `Int64.max`.
    private func flush(_ side: Side, of connection: Connection, upTo limit: Int64, at timestamp: Timestamp) {
        let direction = connection.direction(side)
        while let first = direction.pending.first, first.offset < limit {
            if first.offset > direction.delivered {
                reportGap(side, of: connection, to: first.offset, at: timestamp)
            }
            drainPending(side, of: connection, at: timestamp)
        }
        if limit != .max && limit > direction.delivered {
            reportGap(side, of: connection, to: limit, at: timestamp)
        }
    }

    /// Delivers all that is left of one direction: buffered data, a gap up to
    /// its FIN if one was seen, and the FIN.
    private func flushAll(_ side: Side, of connection: Connection, at timestamp: Timestamp) {
        let direction = connection.direction(side)
        guard direction.started && !direction.finished else { return }
        flush(side, of: connection, upTo: direction.finOffset ?? .max, at: timestamp)
        deliverFINIfReached(side, of: connection, at: timestamp)
        direction.discardPending()
    }

    private func deliverFINIfReached(_ side: Side, of connection: Connection, at timestamp: Timestamp) {
        let direction = connection.direction(side)
        guard !direction.finished, let fin = direction.finOffset, direction.delivered >= fin else { return }
        direction.finished = true
        direction.discardPending()
        delegate.finished(connection.id, from: side, at: timestamp)
        if connection.client.finished && connection.server.finished { close(connection) }
    }

    private func reset(_ connection: Connection, from side: Side, at timestamp: Timestamp) {
        flushAll(side, of: connection, at: timestamp)
        flushAll(side.peer, of: connection, at: timestamp)
        delegate.reset(connection.id, from: side, at: timestamp)
        close(connection)
    }

    @inline(__always)
    private func emit(_ bytes: UnsafeRawBufferPointer, _ side: Side, _ connection: Connection, _ timestamp: Timestamp) {
        let direction = connection.direction(side)
        direction.advance(to: direction.delivered + Int64(bytes.count))
        delegate.received(connection.id, from: side, bytes: bytes, at: timestamp)
    }

    private func reportGap(_ side: Side, of connection: Connection, to offset: Int64, at timestamp: Timestamp) {
        let direction = connection.direction(side)
        let missing = offset - direction.delivered
        guard missing > 0 else { return }
        direction.advance(to: offset)
        statistics.gaps += 1
        statistics.missingBytes += missing
        delegate.gap(connection.id, from: side, missingBytes: missing, at: timestamp)
    }
}

/// The unordered 4-tuple: both directions of a connection map to the same key.
struct FlowKey: Hashable {
    var lowAddress: IPAddress
    var highAddress: IPAddress
    var lowPort: UInt16
    var highPort: UInt16

    init(_ segment: TCPSegment) {
        if (segment.source, segment.sourcePort) < (segment.destination, segment.destinationPort) {
            lowAddress = segment.source; lowPort = segment.sourcePort
            highAddress = segment.destination; highPort = segment.destinationPort
        } else {
            lowAddress = segment.destination; lowPort = segment.destinationPort
            highAddress = segment.source; highPort = segment.sourcePort
        }
    }

    /// Two words instead of the seven fields: it is looked up for every packet. IPv4 pairs
    /// and port pairs fold without loss; IPv6 prefixes are mixed in.
    func hash(into hasher: inout Hasher) {
        let rotated = highAddress.low << 32 | highAddress.low >> 32
        hasher.combine(lowAddress.low ^ rotated ^ (lowAddress.high &* 0x9E37_79B9_7F4A_7C15) ^ highAddress.high)
        hasher.combine(UInt32(lowPort) << 16 | UInt32(highPort))
    }
}

final class Connection {
    let id: TCPConnectionID
    let key: FlowKey
    let clientAddress: IPAddress
    let clientPort: UInt16
    let serverAddress: IPAddress
    let serverPort: UInt16
    let client = StreamDirection()
    let server = StreamDirection()
    var isClosed = false
    /// When the last segment either way was seen.
    var lastSegmentAt: Timestamp

    init(id: TCPConnectionID, key: FlowKey, clientAddress: IPAddress, clientPort: UInt16, serverAddress: IPAddress, serverPort: UInt16,
         openedAt: Timestamp) {
        self.id = id
        self.key = key
        self.clientAddress = clientAddress
        self.clientPort = clientPort
        self.serverAddress = serverAddress
        self.serverPort = serverPort
        self.lastSegmentAt = openedAt
    }

    @inline(__always)
    func direction(_ side: Side) -> StreamDirection {
        switch side {
        case .client: return client
        case .server: return server
        }
    }
}
