/// Validates UTF-8 incrementally, across frames and fragments, stopping at the first bad byte.
///
/// A sequence is rejected at the first byte that makes it impossible (an overlong
/// lead, a surrogate, a value above U+10FFFF, a missing continuation), not when the
/// message ends, so a message whose first fragment already holds an impossible byte
/// is caught in that fragment. Input may be masked: the validator unmasks as it reads,
/// eight bytes at a time on the ASCII fast path, so text payloads are never copied.
public struct UTF8StreamValidator: Sendable {
    // What the next byte must be. Each case names the accepted range of the next byte.
    @usableFromInline enum State: UInt8, Sendable {
        case ready            // between characters
        case tail1            // one 80–BF left
        case tail2            // two 80–BF left
        case tail3            // three 80–BF left
        case afterE0          // A0–BF, then one more (no overlongs)
        case afterED          // 80–9F, then one more (no surrogates)
        case afterF0          // 90–BF, then two more (no overlongs)
        case afterF4          // 80–8F, then two more (not above U+10FFFF)
        case invalid
    }

    @usableFromInline var state: State = .ready
    /// Bytes of the current message seen so far.
    public private(set) var byteCount: Int64 = 0
    /// Offset in the message where the character being read started.
    @usableFromInline var characterStart: Int64 = 0
    /// Offset in the message of the first bad byte, once one has been seen.
    public private(set) var firstInvalidOffset: Int64?

    public init() {}

    /// Whether nothing invalid has been seen so far.
    @inlinable
    public var isValidSoFar: Bool { state != .invalid }

    /// Starts a new message.
    public mutating func reset() {
        self = UTF8StreamValidator()
    }

    /// Validates `bytes` (XOR-ed with `mask` starting at mask byte `maskPhase`, when masked).
    ///
    /// - Returns: the index in `bytes` of the first invalid byte, or `nil` if all were valid.
    ///   After an invalid byte, further calls do nothing.
    @discardableResult
    public mutating func validate(_ bytes: UnsafeRawBufferPointer, mask: UInt32? = nil, maskPhase: Int = 0) -> Int? {
        guard state != .invalid, let base = bytes.baseAddress, bytes.count > 0 else { return nil }
        let pattern = MaskPattern(key: mask ?? 0, phase: maskPhase & 3)
        let count = bytes.count
        var index = 0
        var local = state
        while index < count {
            if local == .ready {
                index = Self.skipValidCharacters(base, from: index, count: count, pattern)
                if index >= count { break }
            }
            let byte = base.load(fromByteOffset: index, as: UInt8.self) ^ pattern.byte(at: index)
            if local == .ready && byte < 0x80 {
                index &+= 1
                continue
            }
            let next = Self.step(local, byte)
            if next == .invalid {
                state = .invalid
                firstInvalidOffset = byteCount &+ Int64(index)
                byteCount &+= Int64(index)
                return index
            }
            if local == .ready && next != .ready {
                characterStart = byteCount &+ Int64(index)
            }
            local = next
            index &+= 1
        }
        state = local
        byteCount &+= Int64(count)
        return nil
    }

    /// Ends the message: a character cut off by the end is invalid.
    ///
    /// - Returns: `true` if the whole message was valid UTF-8.
    public mutating func finish() -> Bool {
        switch state {
        case .ready:
            return true
        case .invalid:
            return false
        case .tail1, .tail2, .tail3, .afterE0, .afterED, .afterF0, .afterF4:
            state = .invalid
            firstInvalidOffset = characterStart
            return false
        }
    }

    /// Walks over ASCII eight bytes at a time and over whole valid characters four bytes at a
    /// time (one masked load each), from a character boundary.
    ///
    /// - Returns: where it stopped: fewer than eight bytes left, or a character that is not
    ///   valid or not wholly in reach, which the byte-by-byte path then reads.
    @inline(__always)
    static func skipValidCharacters(_ base: UnsafeRawPointer, from start: Int, count: Int, _ pattern: MaskPattern) -> Int {
        var index = start
        while index &+ 8 <= count {
            let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self) ^ pattern.word(at: index)
            let high = word & 0x8080_8080_8080_8080
            if high == 0 {
                index &+= 8
                continue
            }
            // Skip the ASCII bytes before the first non-ASCII one (little-endian load).
            index &+= high.trailingZeroBitCount >> 3
            guard index &+ 4 <= count else { break }
            let window = base.loadUnaligned(fromByteOffset: index, as: UInt32.self)
                ^ UInt32(truncatingIfNeeded: pattern.word(at: index))
            let width = characterWidth(window)
            if width == 0 { break }
            index &+= width
        }
        return index
    }

    /// The length of the valid character whose bytes are `window` (lead byte lowest, as a
    /// little-endian load gives them), or 0 if it is not valid or its lead is ASCII.
    @inline(__always)
    static func characterWidth(_ window: UInt32) -> Int {
        let lead = window & 0xFF, second = (window >> 8) & 0xFF
        if lead < 0xC2 { return 0 }
        if lead <= 0xDF { return window & 0xC000 == 0x8000 ? 2 : 0 }
        if lead <= 0xEF {
            guard window & 0xC0_C000 == 0x80_8000 else { return 0 }
            if lead == 0xE0 { return second >= 0xA0 ? 3 : 0 }       // no overlongs
            if lead == 0xED { return second <= 0x9F ? 3 : 0 }       // no surrogates
            return 3
        }
        guard lead <= 0xF4, window & 0xC0C0_C000 == 0x8080_8000 else { return 0 }
        if lead == 0xF0 { return second >= 0x90 ? 4 : 0 }           // no overlongs
        if lead == 0xF4 { return second <= 0x8F ? 4 : 0 }           // not above U+10FFFF
        return 4
    }

    @inlinable @inline(__always)
    static func step(_ state: State, _ byte: UInt8) -> State {
        switch state {
        case .ready:
            switch byte {
            case 0x00...0x7F: return .ready
            case 0xC2...0xDF: return .tail1
            case 0xE0: return .afterE0
            case 0xE1...0xEC, 0xEE...0xEF: return .tail2
            case 0xED: return .afterED
            case 0xF0: return .afterF0
            case 0xF1...0xF3: return .tail3
            case 0xF4: return .afterF4
            default: return .invalid
            }
        case .tail1: return (0x80...0xBF).contains(byte) ? .ready : .invalid
        case .tail2: return (0x80...0xBF).contains(byte) ? .tail1 : .invalid
        case .tail3: return (0x80...0xBF).contains(byte) ? .tail2 : .invalid
        case .afterE0: return (0xA0...0xBF).contains(byte) ? .tail1 : .invalid
        case .afterED: return (0x80...0x9F).contains(byte) ? .tail1 : .invalid
        case .afterF0: return (0x90...0xBF).contains(byte) ? .tail2 : .invalid
        case .afterF4: return (0x80...0x8F).contains(byte) ? .tail2 : .invalid
        case .invalid: return .invalid
        }
    }
}
