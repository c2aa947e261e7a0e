/// A 64-bit FNV-1a digest of a payload, fed piece by piece: the same bytes give the same
/// digest however they were split. Two payloads of one length that differ in any single
/// byte always differ in digest (each step is a bijection of the state), which is what
/// `wsdoctor compare` needs to see bytes changed in place without keeping them.
public struct PayloadDigest: Sendable, Hashable {
    public private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    public init() {}

    /// Adds `bytes`, unmasking them first with `mask` when given (`phase`: payload bytes
    /// of the frame before them, modulo 4).
    mutating func add(_ bytes: UnsafeRawBufferPointer, mask: UInt32? = nil, phase: Int = 0) {
        var state = value
        if let mask {
            let pattern = MaskPattern(key: mask, phase: phase)
            for (offset, byte) in bytes.enumerated() {
                state = (state ^ UInt64(byte ^ pattern.byte(at: offset))) &* 0x0000_0100_0000_01B3
            }
        } else {
            for byte in bytes {
                state = (state ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
            }
        }
        value = state
    }
}
