import WebSocketWire

/// What faults do to one direction's bytes (those toward `toward`), chunk by chunk, at the
/// frame boundaries the connection's decoder reports.
///
/// The decoder reports a frame when it ends, so every edit is to a frame that ended inside
/// the chunk being edited; a frame begun in an earlier chunk (already forwarded) is left
/// alone where the edit would need its start, and the next frame is taken instead.
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
    /// what the decoder reported for this direction while reading it, and `betweenFrames`
    /// whether the stream sits between frames after it.
    public mutating func edit(_ chunk: [UInt8], base: Int64, events: [WireEvent], betweenFrames: Bool) -> (bytes: [UInt8], edits: [Edit]) {
        guard !discarding else { return ([], []) }
        let end = base + Int64(chunk.count)
        var output = chunk
        var dropped: [Range<Int>] = []
        var edits: [Edit] = []
        var cut: Int64?
        for event in events {
            guard case .frame(let info) = event else { continue }
            let frameEnd = info.offset + Int64(info.headerLength) + Int64(clamping: info.payloadLength)
            let wholeHere = info.offset >= base && frameEnd <= end
            let start = Int(info.offset - base)
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
}
