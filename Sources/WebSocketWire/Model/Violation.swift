/// One broken MUST of RFC 6455 / RFC 7692, with who broke it and where.
public struct Violation: Sendable, Hashable {
    /// The endpoint that committed the violation.
    public var side: Side
    public var kind: ViolationKind
    /// Index of the frame in `side`'s direction (0-based), when a frame is involved.
    public var frameIndex: Int?
    /// Byte offset in `side`'s direction of the TCP stream where the offending element starts.
    public var streamOffset: Int64
    /// Human-readable specifics (the bad value, the message index, …).
    public var detail: String

    public init(side: Side, kind: ViolationKind, frameIndex: Int?, streamOffset: Int64, detail: String) {
        self.side = side
        self.kind = kind
        self.frameIndex = frameIndex
        self.streamOffset = streamOffset
        self.detail = detail
    }

    /// The RFC section the violated rule comes from, e.g. "RFC 6455 §5.1".
    public var rfc: String { kind.rfc }
}

/// Every rule the decoder checks. Raw values are stable names used in output and rules.
public enum ViolationKind: String, Sendable, Hashable, CaseIterable {
    // Framing (RFC 6455 §5)
    case clientFrameUnmasked = "client-frame-unmasked"
    case serverFrameMasked = "server-frame-masked"
    case reservedBitsSet = "reserved-bits-set"
    case rsv1WithoutExtension = "rsv1-without-extension"
    case rsv1OnContinuation = "rsv1-on-continuation"
    case rsv1OnControlFrame = "rsv1-on-control-frame"
    case reservedOpcode = "reserved-opcode"
    case controlFrameTooLong = "control-frame-too-long"
    case controlFrameFragmented = "control-frame-fragmented"
    case continuationWithoutMessage = "continuation-without-message"
    case dataFrameDuringFragmentedMessage = "data-frame-during-fragmented-message"
    case nonMinimalLength = "non-minimal-length"
    case lengthTopBitSet = "length-top-bit-set"
    case closePayloadOneByte = "close-payload-one-byte"
    case closeCodeNotAllowed = "close-code-not-allowed"
    case closeReasonNotUTF8 = "close-reason-not-utf8"
    case frameAfterClose = "frame-after-close"
    case textNotUTF8 = "text-not-utf8"
    // permessage-deflate (RFC 7692)
    case inflateFailed = "inflate-failed"
    // Opening handshake (RFC 6455 §4)
    case handshakeMalformed = "handshake-malformed"
    case acceptMismatch = "accept-mismatch"
    case unsupportedVersion = "unsupported-version"
    case subprotocolNotOffered = "subprotocol-not-offered"
    case extensionNotOffered = "extension-not-offered"
    case extensionParametersInvalid = "extension-parameters-invalid"
    case dataBeforeHandshakeComplete = "data-before-handshake-complete"

    /// Where the rule is written down.
    public var rfc: String {
        switch self {
        case .clientFrameUnmasked, .serverFrameMasked: return "RFC 6455 §5.1"
        case .reservedBitsSet, .rsv1WithoutExtension, .reservedOpcode,
             .nonMinimalLength, .lengthTopBitSet: return "RFC 6455 §5.2"
        case .continuationWithoutMessage, .dataFrameDuringFragmentedMessage: return "RFC 6455 §5.4"
        case .controlFrameTooLong, .controlFrameFragmented: return "RFC 6455 §5.5"
        case .closePayloadOneByte, .closeReasonNotUTF8, .frameAfterClose: return "RFC 6455 §5.5.1"
        case .closeCodeNotAllowed: return "RFC 6455 §7.4.1"
        case .textNotUTF8: return "RFC 6455 §8.1"
        case .rsv1OnContinuation, .rsv1OnControlFrame: return "RFC 7692 §6"
        case .inflateFailed: return "RFC 7692 §6.2"
        case .handshakeMalformed, .unsupportedVersion: return "RFC 6455 §4.2.1"
        case .acceptMismatch, .subprotocolNotOffered, .extensionNotOffered: return "RFC 6455 §4.1"
        case .extensionParametersInvalid: return "RFC 7692 §7.1"
        case .dataBeforeHandshakeComplete: return "RFC 6455 §4.1"
        }
    }
}
