/// The RFC 1071 one's-complement sum used by the IPv4 header and TCP checksums.
///
/// Words are summed in the host's byte order, 8 bytes at a time; RFC 1071 §2(B)
/// shows the result is then the checksum in the same order, so it is stored
/// with a native (not big-endian) store.
struct InternetChecksum {
    private var sum: UInt64 = 0

    /// Adds `bytes`. Every call but the last must pass an even number of bytes,
    /// so later bytes keep their position within 16-bit words.
    mutating func add(_ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        let count = bytes.count
        while offset + 8 <= count {
            addWord(bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            offset += 8
        }
        if offset + 4 <= count {
            addWord(UInt64(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
            offset += 4
        }
        if offset + 2 <= count {
            addWord(UInt64(bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
            offset += 2
        }
        if offset < count {
            // The odd last byte is the first byte of a word padded with zero.
            var padded: UInt16 = 0
            withUnsafeMutableBytes(of: &padded) { $0[0] = bytes[offset] }
            addWord(UInt64(padded))
        }
    }

    @inline(__always)
    private mutating func addWord(_ word: UInt64) {
        let (total, overflow) = sum.addingReportingOverflow(word)
        sum = total &+ (overflow ? 1 : 0)  // end-around carry
    }

    /// The checksum field value, in host order as it must be stored (`storeBytes` without `.bigEndian`).
    var value: UInt16 {
        var folded = (sum & 0xffff_ffff) &+ (sum >> 32)
        folded = (folded & 0xffff_ffff) &+ (folded >> 32)
        folded = (folded & 0xffff) &+ (folded >> 16)
        folded = (folded & 0xffff) &+ (folded >> 16)
        folded = (folded & 0xffff) &+ (folded >> 16)
        return ~UInt16(truncatingIfNeeded: folded)
    }
}
