import WebSocketWire

/// Builds frames byte by byte, including ones that break the rules on purpose.
public struct FrameBytes {
    public var fin = true
    public var reservedBits: UInt8 = 0
    public var opcode: UInt8
    public var maskKey: [UInt8]? = nil
    public var payload: [UInt8] = []
    /// Forces a length encoding: 7, 16 or 64 bits (nil: the minimal one).
    public var lengthBits: Int? = nil
    /// Overrides the encoded length (for impossible lengths).
    public var rawLength: UInt64? = nil

    public init(fin: Bool = true, reservedBits: UInt8 = 0, opcode: UInt8, maskKey: [UInt8]? = nil, payload: [UInt8] = [],
                lengthBits: Int? = nil, rawLength: UInt64? = nil) {
        self.fin = fin
        self.reservedBits = reservedBits
        self.opcode = opcode
        self.maskKey = maskKey
        self.payload = payload
        self.lengthBits = lengthBits
        self.rawLength = rawLength
    }

    public var bytes: [UInt8] {
        var out: [UInt8] = [(fin ? 0x80 : 0) | (reservedBits << 4) | (opcode & 0x0F)]
        let maskBit: UInt8 = maskKey == nil ? 0 : 0x80
        let length = rawLength ?? UInt64(payload.count)
        let bits = lengthBits ?? (length < 126 ? 7 : length <= 0xFFFF ? 16 : 64)
        switch bits {
        case 7: out.append(maskBit | UInt8(length))
        case 16:
            out.append(maskBit | 126)
            out += [UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
        default:
            out.append(maskBit | 127)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(length >> UInt64(shift) & 0xFF)) }
        }
        if let maskKey {
            out += maskKey
            out += payload.enumerated().map { $0.element ^ maskKey[$0.offset % 4] }
        } else {
            out += payload
        }
        return out
    }

    public static func client(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0) -> [UInt8] {
        FrameBytes(fin: fin, reservedBits: rsv, opcode: opcode, maskKey: [0x37, 0xFA, 0x21, 0x3D], payload: payload).bytes
    }

    public static func server(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0) -> [UInt8] {
        FrameBytes(fin: fin, reservedBits: rsv, opcode: opcode, payload: payload).bytes
    }

    public static func closePayload(_ code: UInt16, _ reason: String = "") -> [UInt8] {
        [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8)
    }
}

/// Feeds bytes to a frame decoder in the chunk sizes given, cycling through them.
public func decodeFrames(_ bytes: [UInt8], side: Side, compression: FrameDecoderConfiguration.Compression = .none,
                  maxInflated: Int64 = 64 << 20, chunkSizes: [Int]? = nil, digests: Bool = false) -> [WireEvent] {
    var configuration = FrameDecoderConfiguration(side: side, compression: compression, maxInflatedMessageSize: maxInflated)
    configuration.digestsPayloads = digests
    var decoder = FrameDecoder(configuration: configuration)
    var events: [WireEvent] = []
    bytes.withUnsafeBytes { all in
        guard let sizes = chunkSizes, !sizes.isEmpty else {
            decoder.decode(all, into: &events)
            return
        }
        var start = 0, turn = 0
        while start < all.count {
            let end = min(all.count, start + max(1, sizes[turn % sizes.count]))
            decoder.decode(UnsafeRawBufferPointer(rebasing: all[start..<end]), into: &events)
            start = end
            turn += 1
        }
    }
    return events
}

extension Array where Element == WireEvent {
    public var violations: [Violation] { compactMap { if case .violation(let v) = $0 { return v } else { return nil } } }
    public var violationKinds: [ViolationKind] { violations.map(\.kind) }
    public var messages: [MessageInfo] { compactMap { if case .message(let m) = $0 { return m } else { return nil } } }
    public var frames: [FrameInfo] { compactMap { if case .frame(let f) = $0 { return f } else { return nil } } }
    public var closes: [CloseFrameInfo] { compactMap { if case .close(let c) = $0 { return c } else { return nil } } }
}

/// A small deterministic generator so property tests can be replayed from their seed.
public struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    public init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
