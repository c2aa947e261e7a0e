/// A frame opcode as it appears on the wire (RFC 6455 §5.2), reserved values included.
public struct Opcode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt8

    @inlinable
    public init(rawValue: UInt8) { self.rawValue = rawValue & 0x0F }

    public static let continuation = Opcode(rawValue: 0x0)
    public static let text = Opcode(rawValue: 0x1)
    public static let binary = Opcode(rawValue: 0x2)
    public static let close = Opcode(rawValue: 0x8)
    public static let ping = Opcode(rawValue: 0x9)
    public static let pong = Opcode(rawValue: 0xA)

    /// Control opcodes have the high bit set (0x8–0xF), reserved ones included.
    @inlinable
    public var isControl: Bool { rawValue & 0x8 != 0 }

    /// 0x3–0x7 and 0xB–0xF are reserved for future use.
    @inlinable
    public var isReserved: Bool {
        switch rawValue {
        case 0x0, 0x1, 0x2, 0x8, 0x9, 0xA: return false
        default: return true
        }
    }

    public var name: String {
        switch rawValue {
        case 0x0: return "continuation"
        case 0x1: return "text"
        case 0x2: return "binary"
        case 0x8: return "close"
        case 0x9: return "ping"
        case 0xA: return "pong"
        default: return "reserved-0x" + String(rawValue, radix: 16)
        }
    }

    public var description: String { name }
}
