/// One direction's ordinary frames and messages, summed instead of reported one event each
/// (`reportsEachFrame` off): all that facts keep of them, at a fraction of the cost per frame.
///
/// Reported as a `.tally` event before any other event of the direction and at the end of
/// each chunk decoded, so what follows it sees every frame and message that came before.
public struct FrameTally: Sendable, Hashable {
    public var side: Side
    public var frames = 0
    public var largestFrame: UInt64 = 0
    public var textMessages = 0
    public var binaryMessages = 0
    /// Sum of each message's size (its wire size where the inflated size is unknown).
    public var messageBytes: Int64 = 0
    public var largestMessage: Int64 = 0
    /// Compressed messages that were inflated (their size is known).
    public var inflatedMessages = 0
    /// The last message summed.
    public var lastMessage: MessageInfo?

    public init(side: Side) {
        self.side = side
    }

    public var messages: Int { textMessages + binaryMessages }
    public var isEmpty: Bool { frames == 0 && lastMessage == nil }

    @inline(__always)
    mutating func add(_ frame: FrameInfo) {
        frames += 1
        if frame.payloadLength > largestFrame { largestFrame = frame.payloadLength }
    }

    mutating func add(_ message: MessageInfo) {
        if message.opcode == .text { textMessages += 1 } else { binaryMessages += 1 }
        let size = message.size ?? message.wireSize
        messageBytes += size
        if size > largestMessage { largestMessage = size }
        if message.compressed && message.size != nil { inflatedMessages += 1 }
        lastMessage = message
    }
}
