/// How one direction's frames are to be read.
public struct FrameDecoderConfiguration: Sendable, Hashable {
    /// How permessage-deflate applies to this direction.
    public enum Compression: Sendable, Hashable {
        /// Not negotiated: RSV1 is a violation.
        case none
        /// Negotiated: inflate with this window, resetting between messages if `noContextTakeover`.
        case deflate(windowBits: Int, noContextTakeover: Bool)
        /// Handshake not seen: RSV1 is accepted but compressed payloads are not inflated.
        case unknown
    }

    /// The endpoint whose frames these are.
    public var side: Side
    public var compression: Compression
    /// Bound on one message's inflated size. 64 MiB by default: far above what real
    /// applications send, yet a zip bomb stops there instead of burning CPU for minutes.
    public var maxInflatedMessageSize: Int64
    /// Every frame and message is its own event; off, ordinary ones are summed in a
    /// `.tally` event per chunk instead (what facts need, at a fraction of the cost).
    public var reportsEachFrame: Bool
    /// Each message carries digests of its payload, as sent and as inflated (for `wsdoctor
    /// compare`). Off by default: it reads every payload byte, binary ones included.
    public var digestsPayloads = false

    public init(side: Side, compression: Compression = .none, maxInflatedMessageSize: Int64 = 64 * 1024 * 1024,
                reportsEachFrame: Bool = true) {
        self.side = side
        self.compression = compression
        self.maxInflatedMessageSize = maxInflatedMessageSize
        self.reportsEachFrame = reportsEachFrame
    }
}
