/// Limits and assumptions for decoding one connection.
public struct ConnectionDecoderConfiguration: Sendable, Hashable {
    /// Largest HTTP head accepted. 16 KiB: what common servers allow (nginx's default
    /// large buffer is 8 KiB, Node's 16 KiB); longer heads are rejected there too.
    public var maxHeadSize: Int
    /// Bound on one message's inflated size (see `FrameDecoderConfiguration`).
    public var maxInflatedMessageSize: Int64
    /// Client bytes held while the answer to an upgrade request is awaited. 64 KiB:
    /// clients wait for the 101 before sending frames, so anything held is small.
    public var maxHeldBytes: Int
    /// Bytes buffered while looking for a frame boundary mid-stream. 256 KiB covers
    /// several typical frames; past it the direction is given up rather than buffered.
    public var maxResyncBytes: Int
    /// The connection is known to carry WebSocket even if its handshake is not seen
    /// (the capture began after it): frames are searched for from the first byte.
    public var assumeWebSocket: Bool
    /// Every frame and message is its own event (see `FrameDecoderConfiguration`).
    public var reportsEachFrame: Bool = true
    /// Messages carry payload digests (see `FrameDecoderConfiguration`).
    public var digestsPayloads = false

    public init(maxHeadSize: Int = 16 * 1024, maxInflatedMessageSize: Int64 = 64 * 1024 * 1024,
                maxHeldBytes: Int = 64 * 1024, maxResyncBytes: Int = 256 * 1024, assumeWebSocket: Bool = false) {
        self.maxHeadSize = maxHeadSize
        self.maxInflatedMessageSize = maxInflatedMessageSize
        self.maxHeldBytes = maxHeldBytes
        self.maxResyncBytes = maxResyncBytes
        self.assumeWebSocket = assumeWebSocket
    }
}
