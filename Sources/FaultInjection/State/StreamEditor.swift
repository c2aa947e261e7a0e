import WebSocketWire

/// What faults do to one direction's bytes (those toward `toward`), chunk by chunk, at the
/// frame boundaries the connection's decoder reports.
///
/// The decoder reports a frame when it ends. A frame left unfinished at the end of a chunk
/// is judged by its first byte (opcode and RSV1, never masked): a ping or pong to drop is
/// dropped from there on, chunk after chunk, until the decoder reports its end; RSV1 is set
/// on that byte. A text frame is corrupted at its last byte, in the chunk where it ends.
public struct StreamEditor: Sendable {
    public let toward: Side
    /// Fault ids whose effects are on.
    public var dropPings: String?
    public var dropPongs: String?
    public var corruptNextText: String?
    public var setRSV1Next: String?
    /// A close frame waiting for the next frame boundary, with its fault id.
    private(set) var pendingClose: (id: String, frame: [UInt8])?
    /// After wsdoctor's close frame: nothing more passes toward this side.
    public private(set) var discarding = false
    /// A frame begun in an earlier chunk that is being edited: one at a time.
    private var carried: Carried?

    private enum Carried: Sendable {
        /// A ping or pong being dropped since `start`; `edit` is reported when it ends.
        case drop(start: Int64, edit: Edit, dropped: Int)
        /// A data frame whose RSV1 was set at `start`; reported with its index when it ends.
        case rsv1(start: Int64, faultID: String)
    }

    /// The most bytes a frame being dropped as a ping or pong may take before it is taken for
    /// something else and the rest passes: the largest legal control frame (RFC 6455 §5.5).
    static let maxControlFrame = 2 + 4 + 125

    public init(toward: Side) {
        self.toward = toward
    }

    /// Something done to the bytes, for the report.
    public enum Edit: Sendable, Equatable {
        case droppedPing(faultID: String)
        case droppedPong(faultID: String)
        case corruptedText(faultID: String, frame: Int)
        case setRSV1(faultID: String, frame: Int)
        case sentClose(faultID: String)
    }

    /// Stops forwarding toward this side (it is being closed).
    public mutating func discard() {
        discarding = true
        pendingClose = nil
    }

    /// Queues `frame` (a close frame) for the next frame boundary; returns it now when the
    /// stream already sits between frames, and from then on nothing else passes.
    public mutating func close(with frame: [UInt8], faultID: String, betweenFrames: Bool) -> [UInt8]? {
        guard !discarding else { return nil }
        if betweenFrames {
            discarding = true
            return frame
        }
        pendingClose = (faultID, frame)
        return nil
    }

    /// The bytes to forward for `chunk`, which starts at stream offset `base`; `events` are
    /// what the decoder reported for this direction while reading it, `betweenFrames`
    /// whether the stream sits between frames after it, and `unfinishedFrameStart` where the
    /// frame it leaves unfinished began (nil: between frames, or not known).
    public mutating func edit(_ chunk: [UInt8], base: Int64, events: [WireEvent], betweenFrames: Bool,
                              unfinishedFrameStart: Int64? = nil) -> (bytes: [UInt8], edits: [Edit]) {
        guard !discarding else { return ([], []) }
        let end = base + Int64(chunk.count)
        var output = chunk
        var dropped: [Range<Int>] = []
        var edits: [Edit] = []
        var cut: Int64?
        if case .drop(let start, let edit, let count) = carried {
            // The rest of a ping or pong begun earlier: up to its end if it ends here.
            let ends = events.lazy.compactMap { event -> Int64? in
                guard case .frame(let info) = event, info.offset == start else { return nil }
                return info.end
            }.first
            if let ends {
                dropped.append(0..<Int(ends - base))
                edits.append(edit)
                carried = nil
            } else if count + chunk.count <= Self.maxControlFrame {
                dropped.append(0..<chunk.count)
                carried = .drop(start: start, edit: edit, dropped: count + chunk.count)
            } else {
                carried = nil
            }
        }
        for event in events {
            guard case .frame(let info) = event else { continue }
            let frameEnd = info.end
            let wholeHere = info.offset >= base && frameEnd <= end
            let start = Int(info.offset - base)
            if case .rsv1(let started, let id) = carried, info.offset == started {
                edits.append(.setRSV1(faultID: id, frame: info.index))
                carried = nil
            }
            if info.opcode == .ping, let id = dropPings, wholeHere {
                dropped.append(start..<Int(frameEnd - base))
                edits.append(.droppedPing(faultID: id))
            } else if info.opcode == .pong, let id = dropPongs, wholeHere {
                dropped.append(start..<Int(frameEnd - base))
                edits.append(.droppedPong(faultID: id))
            } else if info.opcode == .text, !info.rsv1, info.payloadLength > 0, frameEnd > base, frameEnd <= end, let id = corruptNextText {
                // Flipping the top bit of any one byte of valid UTF-8 makes it invalid (a lone
                // continuation, a lead without its continuation, or a continuation without its
                // lead); on masked bytes it flips the same bit of the text.
                output[Int(frameEnd - base) - 1] ^= 0x80
                corruptNextText = nil
                edits.append(.corruptedText(faultID: id, frame: info.index))
            } else if info.opcode == .text || info.opcode == .binary || info.opcode == .continuation,
                      !info.rsv1, wholeHere, let id = setRSV1Next {
                output[start] |= 0x40
                setRSV1Next = nil
                edits.append(.setRSV1(faultID: id, frame: info.index))
            }
            if pendingClose != nil, frameEnd >= base, frameEnd <= end {
                cut = frameEnd
                break
            }
        }
        if pendingClose != nil, cut == nil, betweenFrames { cut = end }
        if cut == nil, carried == nil, let unfinished = unfinishedFrameStart, unfinished >= base, unfinished < end {
            startEditing(unfinishedAt: Int(unfinished - base), of: &output, base: base, dropping: &dropped)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(chunk.count)
        let limit = cut.map { Int($0 - base) } ?? chunk.count
        var position = 0
        for range in dropped.sorted(by: { $0.lowerBound < $1.lowerBound }) where range.lowerBound < limit {
            bytes.append(contentsOf: output[position..<range.lowerBound])
            position = range.upperBound
        }
        if position < limit { bytes.append(contentsOf: output[position..<limit]) }
        if cut != nil, let close = pendingClose {
            bytes.append(contentsOf: close.frame)
            edits.append(.sentClose(faultID: close.id))
            pendingClose = nil
            discarding = true
        }
        return (bytes, edits)
    }

    /// Edits a frame from its first byte, at `index` of `output`, before the decoder has seen
    /// it end: the rest of it is edited in the chunks to come.
    private mutating func startEditing(unfinishedAt index: Int, of output: inout [UInt8], base: Int64, dropping dropped: inout [Range<Int>]) {
        let first = output[index]
        let start = base + Int64(index)
        let opcode = Opcode(rawValue: first)
        if opcode == .ping, let id = dropPings {
            dropped.append(index..<output.count)
            carried = .drop(start: start, edit: .droppedPing(faultID: id), dropped: output.count - index)
        } else if opcode == .pong, let id = dropPongs {
            dropped.append(index..<output.count)
            carried = .drop(start: start, edit: .droppedPong(faultID: id), dropped: output.count - index)
        } else if opcode == .text || opcode == .binary || opcode == .continuation, first & 0x40 == 0, let id = setRSV1Next {
            output[index] |= 0x40
            carried = .rsv1(start: start, faultID: id)
            setRSV1Next = nil
        }
    }
}
