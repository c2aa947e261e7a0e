import Capture
import WebSocketWire

/// The stream events of one worker's connections within one chunk of a capture, in capture
/// order, with the bytes they carry copied out of the reassembler.
struct ReplayBatch: Sendable {
    /// One ``TCPStreamDelegate`` call; `received` bytes are a range of ``bytes``.
    enum Event: Sendable {
        case opened(number: Int, client: Endpoint, server: Endpoint, at: Timestamp, sawSYN: Bool, sidesGuessed: Bool)
        case received(Side, bytes: Range<Int>, at: Timestamp)
        case gap(Side, missing: Int64, at: Timestamp)
        case finished(Side, at: Timestamp)
        case reset(Side, at: Timestamp)
        case captureEnded(at: Timestamp)
        case stoppedTracking(at: Timestamp)
    }

    struct Entry: Sendable {
        /// The event's place among all events of the capture, across workers.
        var sequence: Int
        var connection: TCPConnectionID
        var event: Event
    }

    var entries: [Entry] = []
    var bytes: [UInt8] = []
    /// The source is exhausted: after these entries, end every connection still open, at this time.
    var finishAll: (sequence: Int, at: Timestamp)?

    init() {}

    init(reservingEntries entries: Int, bytes: Int) {
        self.entries.reserveCapacity(entries)
        self.bytes.reserveCapacity(bytes)
    }
}
