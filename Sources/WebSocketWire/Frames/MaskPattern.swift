#if _endian(big)
#error("The eight-bytes-at-a-time unmasking and UTF-8 scanning assume a little-endian machine.")
#endif

/// A frame's 4-byte masking key laid out for eight-bytes-at-a-time unmasking (RFC 6455 §5.3).
@usableFromInline
struct MaskPattern: Sendable {
    /// The key repeated over a little-endian word, byte `i` lining up with payload byte `phase + i`.
    @usableFromInline let word: UInt64

    /// - Parameters:
    ///   - key: the masking key as it appears on the wire, first byte most significant; 0 unmasks nothing.
    ///   - phase: how many payload bytes precede the first byte to be unmasked, modulo 4.
    @inlinable
    init(key: UInt32, phase: Int) {
        var word: UInt64 = 0
        for i in 0..<8 {
            let keyByte = UInt8(truncatingIfNeeded: key >> UInt32(24 - 8 * ((phase + i) & 3)))
            word |= UInt64(keyByte) << UInt64(8 * i)
        }
        self.word = word
    }

    /// The pattern for a load starting `offset` bytes after the pattern's origin.
    @inlinable @inline(__always)
    func word(at offset: Int) -> UInt64 {
        let shift = UInt64((offset & 3) &* 8)
        return shift == 0 ? word : (word >> shift) | (word << (64 &- shift))
    }

    /// The key byte for the payload byte `offset` bytes after the origin.
    @inlinable @inline(__always)
    func byte(at offset: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: word(at: offset))
    }

    /// XORs `buffer` with the pattern in place.
    @inlinable
    func apply(to buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress else { return }
        let count = buffer.count
        var index = 0
        // Steps of 8 keep the phase, so one word serves the whole run.
        while index &+ 8 <= count {
            let value = base.loadUnaligned(fromByteOffset: index, as: UInt64.self) ^ word
            base.storeBytes(of: value, toByteOffset: index, as: UInt64.self)
            index &+= 8
        }
        while index < count {
            base.storeBytes(of: base.load(fromByteOffset: index, as: UInt8.self) ^ byte(at: index), toByteOffset: index, as: UInt8.self)
            index &+= 1
        }
    }
}
