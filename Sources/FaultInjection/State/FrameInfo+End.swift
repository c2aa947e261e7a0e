import WebSocketWire

extension FrameInfo {
    /// The stream offset just past the frame's last payload byte.
    public var end: Int64 { offset + Int64(headerLength) + Int64(clamping: payloadLength) }
}
