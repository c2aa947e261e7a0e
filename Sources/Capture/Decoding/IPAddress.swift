/// An IPv4 or IPv6 address in binary form, cheap to hash and compare.
///
/// The hot path keys connections on this; the textual form (``description``)
/// is built only when an ``Endpoint`` is needed.
public struct IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// First 8 bytes of an IPv6 address, big-endian; 0 for IPv4.
    public var high: UInt64
    /// Last 8 bytes of an IPv6 address, or the IPv4 address in the low 32 bits.
    public var low: UInt64
    public var isIPv6: Bool

    /// An IPv4 address from its 32-bit big-endian value (`0x7f000001` is 127.0.0.1).
    @inlinable
    public init(ipv4: UInt32) {
        self.high = 0
        self.low = UInt64(ipv4)
        self.isIPv6 = false
    }

    /// An IPv6 address from its two big-endian 64-bit halves.
    @inlinable
    public init(ipv6High high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
        self.isIPv6 = true
    }

    @inlinable
    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        if lhs.isIPv6 != rhs.isIPv6 { return !lhs.isIPv6 }
        if lhs.high != rhs.high { return lhs.high < rhs.high }
        return lhs.low < rhs.low
    }

    /// Dotted quad for IPv4, RFC 5952 text for IPv6.
    public var description: String {
        if !isIPv6 { return Self.dotted(UInt32(truncatingIfNeeded: low)) }
        var groups = [UInt16]()
        groups.reserveCapacity(8)
        for shift in stride(from: 48, through: 0, by: -16) { groups.append(UInt16(truncatingIfNeeded: high >> UInt64(shift))) }
        for shift in stride(from: 48, through: 0, by: -16) { groups.append(UInt16(truncatingIfNeeded: low >> UInt64(shift))) }
        // RFC 5952 §5: IPv4-mapped addresses keep the dotted tail.
        if high == 0 && groups[4] == 0 && groups[5] == 0xffff {
            return "::ffff:" + Self.dotted(UInt32(truncatingIfNeeded: low))
        }
        // RFC 5952 §4.2: compress the longest run (first if tied) of two or more zero groups.
        var bestStart = -1, bestLength = 0, runStart = -1
        for index in 0...8 {
            if index < 8 && groups[index] == 0 {
                if runStart < 0 { runStart = index }
            } else if runStart >= 0 {
                if index - runStart > bestLength { bestStart = runStart; bestLength = index - runStart }
                runStart = -1
            }
        }
        if bestLength < 2 { bestStart = -1 }
        var text = ""
        var index = 0
        while index < 8 {
            if index == bestStart {
                text += "::"
                index += bestLength
                continue
            }
            if !text.isEmpty && !text.hasSuffix(":") { text += ":" }
            text += String(groups[index], radix: 16)
            index += 1
        }
        return text
    }

    private static func dotted(_ value: UInt32) -> String {
        "\(value >> 24).\((value >> 16) & 0xff).\((value >> 8) & 0xff).\(value & 0xff)"
    }
}
