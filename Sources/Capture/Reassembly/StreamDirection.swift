/// Reassembly state for one direction of one connection.
///
/// Offsets are 64-bit stream positions (0 is the first data byte after the SYN,
/// or the first sequence number seen without a SYN), so 32-bit sequence
/// wraparound only matters when converting, in ``offset(of:)``.
final class StreamDirection {
    struct Pending {
        var offset: Int64
        var bytes: [UInt8]
        var end: Int64 { offset + Int64(bytes.count) }
    }

    var started = false
    /// Sequence number of the next byte to deliver.
    var nextSequence: UInt32 = 0
    /// Stream offset of the next byte to deliver (delivered bytes plus gaps).
    var delivered: Int64 = 0
    /// Stream offset of the FIN, once seen.
    var finOffset: Int64?
    var finished = false
    /// Out-of-order data: sorted, non-overlapping, every entry after `delivered`.
    var pending: [Pending] = []
    var pendingBytes = 0

    func start(at sequence: UInt32) {
        started = true
        nextSequence = sequence
    }

    /// The stream offset of `sequence`, taking the nearest one within ±2 GiB of the delivery point.
    @inline(__always)
    func offset(of sequence: UInt32) -> Int64 {
        delivered + Int64(Int32(bitPattern: sequence &- nextSequence))
    }

    @inline(__always)
    func advance(to offset: Int64) {
        nextSequence &+= UInt32(truncatingIfNeeded: offset - delivered)
        delivered = offset
    }

    /// Stores `bytes` at `offset`, keeping bytes already buffered where they overlap
    /// (first seen wins). Returns how many bytes were newly buffered.
    func buffer(_ bytes: UnsafeRawBufferPointer, at offset: Int64) -> Int {
        let end = offset + Int64(bytes.count)
        if pending.last.map({ $0.end <= offset }) ?? true {
            pending.append(Pending(offset: offset, bytes: Array(bytes)))
            pendingBytes += bytes.count
            return bytes.count
        }
        var added = 0
        var cursor = offset
        var index = 0
        while index < pending.count && pending[index].end <= cursor { index += 1 }
        while cursor < end {
            if index < pending.count && pending[index].offset <= cursor {
                cursor = max(cursor, pending[index].end)
                index += 1
                continue
            }
            let stop = index < pending.count ? min(pending[index].offset, end) : end
            let slice = bytes[Int(cursor - offset)..<Int(stop - offset)]
            pending.insert(Pending(offset: cursor, bytes: Array(slice)), at: index)
            added += slice.count
            index += 1
            cursor = stop
        }
        pendingBytes += added
        return added
    }

    func discardPending() {
        pending.removeAll()
        pendingBytes = 0
    }
}
