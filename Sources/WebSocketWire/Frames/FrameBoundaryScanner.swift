/// Finds where frames start in a stream joined mid-connection (capture began late, or a gap).
///
/// A candidate offset is trusted when the frame headers chained from it are all plausible
/// for `side` (known opcode, RSV2/3 clear, masking right for the side, minimal length,
/// short unfragmented control frames) for three frames, or up to the very end of the stream.
/// The first candidate is chosen only once every earlier offset has been ruled out, so the
/// choice depends on the bytes alone, never on how they were chunked.
struct FrameBoundaryScanner {
    enum Verdict: Equatable {
        case found(offset: Int)
        case needMoreData
        case notFound
    }

    /// Headers that must chain before an offset is trusted without ending on a segment boundary.
    static let framesToTrust = 3

    /// - Parameters:
    ///   - atLimit: no more bytes will be buffered: settle for the first offset not ruled out.
    ///   - atEnd: the stream has ended: a chain reaching the last byte is complete.
    ///   - ruledOut: offsets below it were ruled out by an earlier scan of the same bytes with
    ///     fewer appended, and are skipped; updated for the next scan. An implausible offset
    ///     stays implausible as bytes are appended, and rescanning it on every segment made a
    ///     buffer fed in small pieces cost quadratic time.
    static func scan(_ bytes: UnsafeRawBufferPointer, side: Side, atLimit: Bool, atEnd: Bool = false,
                     ruledOut: inout Int) -> Verdict {
        for start in min(ruledOut, bytes.count)..<bytes.count {
            switch chain(bytes, from: start, side: side, atEnd: atEnd) {
            case .trusted: return .found(offset: start)
            case .pending(let completeFrames):
                // At the limit only a chain with a whole frame in it is worth trusting;
                // a lone header claiming a huge payload is as likely to be noise.
                if atLimit { return completeFrames > 0 ? .found(offset: start) : .notFound }
                return .needMoreData
            case .implausible:
                // At the end, a chain cut short is implausible only because no more bytes will come.
                if !atEnd { ruledOut = start + 1 }
                continue
            }
        }
        return atLimit || atEnd ? .notFound : .needMoreData
    }

    private enum Chain {
        case trusted
        /// Plausible so far; `completeFrames` whole frames chained before the data ran out.
        case pending(completeFrames: Int)
        case implausible
    }

    private static func chain(_ bytes: UnsafeRawBufferPointer, from start: Int, side: Side, atEnd: Bool) -> Chain {
        var position = start
        var frames = 0
        while true {
            if position == bytes.count { return atEnd && frames > 0 ? .trusted : .pending(completeFrames: frames) }
            guard let length = plausibleFrameLength(bytes, at: position, side: side) else {
                if atEnd { return .implausible }
                return position + 2 > bytes.count || headerIncomplete(bytes, at: position) ? .pending(completeFrames: frames) : .implausible
            }
            frames += 1
            if frames >= framesToTrust { return .trusted }
            let (next, overflow) = position.addingReportingOverflow(length)
            if overflow || next > bytes.count { return atEnd ? .implausible : .pending(completeFrames: frames - 1) }
            position = next
        }
    }

    private static func headerIncomplete(_ bytes: UnsafeRawBufferPointer, at position: Int) -> Bool {
        guard position + 2 <= bytes.count else { return true }
        let b1 = bytes[position + 1]
        let extended = b1 & 0x7F == 126 ? 2 : b1 & 0x7F == 127 ? 8 : 0
        return position + 2 + extended + (b1 & 0x80 != 0 ? 4 : 0) > bytes.count && firstByteIsPlausible(bytes[position])
    }

    private static func firstByteIsPlausible(_ b0: UInt8) -> Bool {
        let opcode = Opcode(rawValue: b0 & 0x0F)
        if opcode.isReserved || b0 & 0x30 != 0 { return false }
        if opcode.isControl { return b0 & 0xC0 == 0x80 }
        return opcode != .continuation || b0 & 0x40 == 0
    }

    /// Header plus payload length of a plausible frame at `position`, or nil.
    private static func plausibleFrameLength(_ bytes: UnsafeRawBufferPointer, at position: Int, side: Side) -> Int? {
        guard position + 2 <= bytes.count else { return nil }
        let b0 = bytes[position], b1 = bytes[position + 1]
        guard firstByteIsPlausible(b0) else { return nil }
        let masked = b1 & 0x80 != 0
        guard masked == (side == .client) else { return nil }
        var header = 2 + (masked ? 4 : 0)
        var length = UInt64(b1 & 0x7F)
        if length == 126 {
            guard position + 4 <= bytes.count else { return nil }
            length = UInt64(bytes[position + 2]) << 8 | UInt64(bytes[position + 3])
            guard length >= 126 else { return nil }
            header += 2
        } else if length == 127 {
            guard position + 10 <= bytes.count else { return nil }
            length = 0
            for i in 2..<10 { length = length << 8 | UInt64(bytes[position + i]) }
            // Frames over 1 TiB do not happen; such a "length" is random bytes.
            guard length > 0xFFFF, length < 1 << 40 else { return nil }
            header += 8
        }
        if Opcode(rawValue: b0 & 0x0F).isControl && length > 125 { return nil }
        guard position + header <= bytes.count else { return nil }
        return header + Int(length)
    }
}
