/// What the decoder found in the bytes of one connection, in stream order per direction.
///
/// Events never depend on how the bytes were split into chunks: feeding a stream
/// whole or one byte at a time gives the same events.
public enum WireEvent: Sendable, Hashable {
    /// An HTTP request head from the client; `offset` is where it starts in the client's stream.
    case request(HTTPRequestHead, offset: Int64)
    /// An HTTP response head from the server (interim 1xx answers included).
    case response(HTTPResponseHead, offset: Int64)
    /// The server answered an upgrade request; frames follow only if `outcome.upgraded`.
    case handshake(HandshakeOutcome)
    /// The decoder assumed WebSocket framing without seeing a handshake (capture started mid-connection).
    case resynchronised(Side, skippedBytes: Int64, offset: Int64)
    case frame(FrameInfo)
    case message(MessageInfo)
    case close(CloseFrameInfo)
    case ping(ControlFrameInfo)
    case pong(ControlFrameInfo)
    case violation(Violation)
    case notice(DecoderNotice)
    /// This direction can no longer be parsed; later bytes from `side` are ignored.
    case stopped(Side, reason: String, offset: Int64)
    /// Frames and messages summed in place of their `.frame` and `.message` events
    /// (`reportsEachFrame` off).
    case tally(FrameTally)
}

/// One frame, reported when its last payload byte has been read.
public struct FrameInfo: Sendable, Hashable {
    public var side: Side
    /// 0-based index among `side`'s frames.
    public var index: Int
    /// Offset of the frame's first header byte in `side`'s stream.
    public var offset: Int64
    public var opcode: Opcode
    public var fin: Bool
    /// RSV1, RSV2, RSV3 as the low three bits (RSV1 = 0b100).
    public var reservedBits: UInt8
    public var masked: Bool
    public var payloadLength: UInt64
    public var headerLength: Int
    /// The masking key (RFC 6455 §5.3) of a masked frame, for `wsdoctor compare` to see a frame re-masked in between.
    public var maskKey: UInt32? = nil

    public var rsv1: Bool { reservedBits & 0b100 != 0 }
}

/// A complete data message (text or binary), reported after its final frame.
public struct MessageInfo: Sendable, Hashable {
    public var side: Side
    /// 0-based index among `side`'s data messages.
    public var index: Int
    public var opcode: Opcode
    public var frameCount: Int
    public var firstFrameIndex: Int
    /// Payload bytes on the wire, across all fragments.
    public var wireSize: Int64
    /// Size after inflation; equals `wireSize` when not compressed; `nil` when it could not be inflated.
    public var size: Int64?
    public var compressed: Bool
    /// For text: offset inside the (inflated) message of the first byte that is not UTF-8.
    public var invalidUTF8Offset: Int64?
    /// Inflation stopped at the configured bound: `size` is what it reached, the message is larger.
    public var sizeIsLowerBound = false
    /// Digest of the payload as sent (unmasked, still compressed), when digests are on.
    public var wireDigest: UInt64? = nil
    /// Digest of the payload after inflation (the wire digest when not compressed); nil
    /// when digests are off or it was not wholly inflated.
    public var contentDigest: UInt64? = nil
}

/// A close frame's contents.
public struct CloseFrameInfo: Sendable, Hashable {
    public var side: Side
    public var frameIndex: Int
    public var offset: Int64
    /// `nil` when the close frame carried no payload (reported as 1005 by endpoints).
    public var code: UInt16?
    /// Reason text, decoded leniently when it is not valid UTF-8.
    public var reason: String

    public init(side: Side, frameIndex: Int, offset: Int64, code: UInt16?, reason: String) {
        self.side = side
        self.frameIndex = frameIndex
        self.offset = offset
        self.code = code
        self.reason = reason
    }
}

/// A ping or pong with its payload (at most 125 bytes are kept).
public struct ControlFrameInfo: Sendable, Hashable {
    public var side: Side
    public var frameIndex: Int
    public var offset: Int64
    public var payload: [UInt8]

    public init(side: Side, frameIndex: Int, offset: Int64, payload: [UInt8]) {
        self.side = side
        self.frameIndex = frameIndex
        self.offset = offset
        self.payload = payload
    }
}

/// Something the decoder could not fully do, that the user should know about.
public struct DecoderNotice: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        /// A message inflated past the configured bound; it was not inflated further.
        case inflatedSizeLimit = "inflated-size-limit"
        /// Compressed data could not be inflated because the handshake was not seen.
        case compressionContextUnknown = "compression-context-unknown"
        /// The TCP stream lost bytes; decoding resumed at the next frame boundary found.
        case gap
        /// A bound on buffered handshake bytes was reached.
        case bufferLimit = "buffer-limit"
        /// A request head was larger than the bound; it was skipped, not read.
        case headTooLarge = "head-too-large"
        /// The stream ended inside a frame; the part that arrived was checked.
        case truncatedFrame = "truncated-frame"
    }
    public var side: Side
    public var kind: Kind
    public var offset: Int64
    public var detail: String

    public init(side: Side, kind: Kind, offset: Int64, detail: String) {
        self.side = side
        self.kind = kind
        self.offset = offset
        self.detail = detail
    }
}
