import CZlib

/// Raw DEFLATE decompression for one direction of permessage-deflate (RFC 7692).
///
/// A class because zlib's stream state points back at its `z_stream`, which therefore
/// must never move. Output goes through a fixed scratch buffer to a closure, so
/// inflating never holds a whole message in memory.
public final class Inflater {
    /// Why inflation stopped early.
    public enum Failure: Error, Sendable, Equatable {
        case corrupt(String)
        case stoppedByReceiver
    }

    private let stream: UnsafeMutablePointer<z_stream>
    private let windowBits: Int32
    private let scratch: UnsafeMutableRawBufferPointer
    /// RFC 7692 §7.2.2: the sender removed this tail from each message; the receiver appends it.
    private static let messageTail: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]

    /// - Parameter windowBits: the LZ77 window the sender may use (8–15, RFC 7692 §7.1.2).
    ///   Inflating with the negotiated window turns a sender's out-of-window reference into an error.
    /// - Parameter scratchSize: output is produced in pieces of at most this many bytes.
    public init(windowBits: Int = 15, scratchSize: Int = 16 * 1024) {
        self.windowBits = Int32(max(8, min(15, windowBits)))
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        scratch = .allocate(byteCount: scratchSize, alignment: 16)
        let status = inflateInit2_(stream, -self.windowBits, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        precondition(status == Z_OK, "zlib inflateInit2 failed: \(status)")
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
        scratch.deallocate()
    }

    /// Forgets the sliding window (no_context_takeover, or after a failure).
    public func reset() {
        inflateReset(stream)
    }

    /// Inflates a piece of a compressed message; with `endingMessage`, also the tail the
    /// sender stripped, which flushes the message out. `output` returns `false` to stop early.
    public func inflate(_ input: UnsafeRawBufferPointer, endingMessage: Bool,
                        output: (UnsafeRawBufferPointer) -> Bool) -> Failure? {
        if input.count > 0, let failure = run(input, output: output) { return failure }
        guard endingMessage else { return nil }
        return Self.messageTail.withUnsafeBytes { run($0, output: output) }
    }

    private func run(_ input: UnsafeRawBufferPointer, output: (UnsafeRawBufferPointer) -> Bool) -> Failure? {
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)
        defer {
            stream.pointee.next_in = nil
            stream.pointee.avail_in = 0
        }
        while true {
            stream.pointee.next_out = scratch.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(scratch.count)
            let status = CZlib.inflate(stream, Z_SYNC_FLUSH)
            let produced = scratch.count - Int(stream.pointee.avail_out)
            if produced > 0, !output(UnsafeRawBufferPointer(rebasing: scratch[0..<produced])) {
                return .stoppedByReceiver
            }
            switch status {
            case Z_OK:
                if stream.pointee.avail_in == 0 && stream.pointee.avail_out != 0 { return nil }
            case Z_BUF_ERROR:
                // No progress possible: all input consumed, or output space needed again.
                if stream.pointee.avail_in == 0 { return nil }
            case Z_STREAM_END:
                // A block with BFINAL set ends the zlib stream; later data starts a fresh one.
                inflateReset(stream)
                if stream.pointee.avail_in == 0 { return nil }
            default:
                let message = stream.pointee.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                inflateReset(stream)
                return .corrupt(message)
            }
        }
    }
}
