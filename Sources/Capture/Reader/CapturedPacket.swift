import WebSocketWire

/// One packet as libpcap read it.
///
/// `bytes` points into libpcap's buffer and is valid only during the call
/// that receives the packet; copy what you need to keep.
public struct CapturedPacket {
    /// Capture time in nanoseconds (microsecond files are scaled by libpcap).
    public var timestamp: Timestamp
    /// The DLT link type of the capture (`pcap_datalink`).
    public var linkType: Int32
    /// The captured bytes; fewer than `originalLength` when the snap length cut the packet.
    public var bytes: UnsafeRawBufferPointer
    /// The length of the packet on the wire.
    public var originalLength: Int

    @inlinable
    public init(timestamp: Timestamp, linkType: Int32, bytes: UnsafeRawBufferPointer, originalLength: Int) {
        self.timestamp = timestamp
        self.linkType = linkType
        self.bytes = bytes
        self.originalLength = originalLength
    }
}
