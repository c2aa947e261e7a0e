import Capture
import Diagnosis
import WebSocketWire

/// Records what a ``TCPReassembler`` reports, merging consecutive data of the
/// same connection and side so tests do not depend on how bytes were chunked.
final class RecordingDelegate: TCPStreamDelegate {
    enum Event: Equatable, CustomStringConvertible {
        case opened(Int, client: String, server: String, sawSYN: Bool, sidesGuessed: Bool)
        case data(Int, Side, String)
        case gap(Int, Side, Int64)
        case finished(Int, Side)
        case reset(Int, Side)
        case ended(Int)
        /// Given up after a silence; the time of its last segment in milliseconds.
        case expired(Int, lastSegmentMillis: Int64)

        var description: String {
            switch self {
            case let .opened(id, client, server, sawSYN, guessed): return "opened(\(id) \(client)->\(server) syn:\(sawSYN) guessed:\(guessed))"
            case let .data(id, side, text): return "data(\(id) \(side) \(text.debugDescription))"
            case let .gap(id, side, count): return "gap(\(id) \(side) \(count))"
            case let .finished(id, side): return "finished(\(id) \(side))"
            case let .reset(id, side): return "reset(\(id) \(side))"
            case let .ended(id): return "ended(\(id))"
            case let .expired(id, last): return "expired(\(id) last:\(last) ms)"
            }
        }
    }

    private(set) var events: [Event] = []
    /// Timestamps of every callback, in order, unmerged.
    private(set) var times: [Int64] = []
    /// The size of each `received` call, unmerged.
    private(set) var chunkSizes: [Int] = []

    func connectionOpened(_ id: TCPConnectionID, client: Endpoint, server: Endpoint, at: Timestamp, sawSYN: Bool, sidesGuessed: Bool) {
        record(.opened(id.rawValue, client: client.description, server: server.description, sawSYN: sawSYN, sidesGuessed: sidesGuessed), at)
    }

    func received(_ id: TCPConnectionID, from: Side, bytes: UnsafeRawBufferPointer, at: Timestamp) {
        chunkSizes.append(bytes.count)
        let text = String(decoding: bytes, as: UTF8.self)
        times.append(at.nanoseconds)
        if case let .data(lastID, lastSide, previous)? = events.last, lastID == id.rawValue, lastSide == from {
            events[events.count - 1] = .data(lastID, lastSide, previous + text)
        } else {
            events.append(.data(id.rawValue, from, text))
        }
    }

    func gap(_ id: TCPConnectionID, from: Side, missingBytes: Int64, at: Timestamp) {
        record(.gap(id.rawValue, from, missingBytes), at)
    }

    func finished(_ id: TCPConnectionID, from: Side, at: Timestamp) { record(.finished(id.rawValue, from), at) }
    func reset(_ id: TCPConnectionID, from: Side, at: Timestamp) { record(.reset(id.rawValue, from), at) }
    func captureEnded(_ id: TCPConnectionID, at: Timestamp) { record(.ended(id.rawValue), at) }
    func stoppedTracking(_ id: TCPConnectionID, lastSegmentAt: Timestamp, at: Timestamp) {
        record(.expired(id.rawValue, lastSegmentMillis: lastSegmentAt.nanoseconds / 1_000_000), at)
    }

    private func record(_ event: Event, _ at: Timestamp) {
        events.append(event)
        times.append(at.nanoseconds)
    }
}
