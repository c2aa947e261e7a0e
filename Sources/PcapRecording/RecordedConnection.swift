import Capture
import WebSocketWire

/// The TCP sequence state of one recorded connection: what each next segment carries.
///
/// Sequence numbers start from fixed ISNs so that recording the same traffic
/// twice gives the same file. Arithmetic wraps at 2³², as TCP's does.
struct RecordedConnection {
    /// Initial sequence numbers of the client's and the server's SYN.
    static let clientISN: UInt32 = 1000
    static let serverISN: UInt32 = 5000
    /// The MSS both SYNs announce: a loopback interface's (65,535 − 40), the largest that
    /// fits an IPv4 packet, so the 65,000-byte segments stay within it.
    static let maximumSegmentSize: UInt16 = 65_495
    /// The window scale both SYNs offer: 65,535 × 2⁷ ≈ 8 MiB of window.
    static let windowScale: UInt8 = 7
    /// Bytes (and FINs) one side may have outstanding before the peer's pure ACK is
    /// written: 1 MiB, well inside the 8 MiB window, so a one-way stream never looks
    /// like it filled the window and costs one extra packet per MiB.
    static let acknowledgeEvery = 1 << 20

    /// The header fields of one segment to write.
    struct Segment {
        var from: Side
        var sequence: UInt32
        var acknowledgment: UInt32
        var flags: TCPFlags
        /// Whether the segment carries the SYN's options (MSS and window scale).
        var synOptions = false
    }

    struct Direction {
        /// Sequence number of the next byte (or FIN) this side sends.
        var next: UInt32
        /// Bytes and FINs sent since the peer last acknowledged.
        var unacknowledged = 0
        var finished = false
    }

    let flow: RecordedFlow
    private(set) var client = Direction(next: RecordedConnection.clientISN &+ 1)
    private(set) var server = Direction(next: RecordedConnection.serverISN &+ 1)
    /// The latest time written for this connection.
    private var latest: Timestamp

    init(flow: RecordedFlow, at time: Timestamp) {
        self.flow = flow
        self.latest = time
    }

    /// SYN, SYN-ACK and ACK.
    static let handshake: [Segment] = [
        Segment(from: .client, sequence: clientISN, acknowledgment: 0, flags: .syn, synOptions: true),
        Segment(from: .server, sequence: serverISN, acknowledgment: clientISN &+ 1, flags: [.syn, .ack], synOptions: true),
        Segment(from: .client, sequence: clientISN &+ 1, acknowledgment: serverISN &+ 1, flags: .ack),
    ]

    /// Both sides have sent their FIN.
    var isFinished: Bool { client.finished && server.finished }

    func hasFinished(_ side: Side) -> Bool { direction(side).finished }

    /// `time`, or the latest time already written for this connection if `time` is earlier,
    /// so a connection's packets never go back in time when callers race for the lock.
    mutating func time(_ time: Timestamp) -> Timestamp {
        latest = max(latest, time)
        return latest
    }

    /// Whether the peer must acknowledge `side`'s outstanding bytes before `count` more are sent.
    func needsAcknowledgment(of side: Side, before count: Int) -> Bool {
        let unacknowledged = direction(side).unacknowledged
        return unacknowledged > 0 && unacknowledged + count > Self.acknowledgeEvery
    }

    /// A segment of `count` payload bytes from `side` (PSH|ACK).
    mutating func data(from side: Side, count: Int) -> Segment {
        segment(from: side, flags: [.psh, .ack], consuming: count)
    }

    /// `side`'s FIN|ACK.
    mutating func fin(from side: Side) -> Segment {
        let segment = segment(from: side, flags: [.fin, .ack], consuming: 1)
        update(side) { $0.finished = true }
        return segment
    }

    /// The pure ACK from `side`'s peer of everything `side` sent.
    mutating func acknowledgment(of side: Side) -> Segment {
        segment(from: side.peer, flags: .ack, consuming: 0)
    }

    /// `side`'s RST|ACK, at its next sequence number.
    func reset(from side: Side) -> Segment {
        Segment(from: side, sequence: direction(side).next, acknowledgment: direction(side.peer).next, flags: [.rst, .ack])
    }

    /// Each segment acknowledges all the peer sent; `consuming` is its sequence space.
    private mutating func segment(from side: Side, flags: TCPFlags, consuming: Int) -> Segment {
        let segment = Segment(from: side, sequence: direction(side).next, acknowledgment: direction(side.peer).next, flags: flags)
        update(side) {
            $0.next &+= UInt32(truncatingIfNeeded: consuming)
            $0.unacknowledged += consuming
        }
        update(side.peer) { $0.unacknowledged = 0 }
        return segment
    }

    private func direction(_ side: Side) -> Direction {
        switch side {
        case .client: return client
        case .server: return server
        }
    }

    private mutating func update(_ side: Side, _ body: (inout Direction) -> Void) {
        switch side {
        case .client: body(&client)
        case .server: body(&server)
        }
    }
}
