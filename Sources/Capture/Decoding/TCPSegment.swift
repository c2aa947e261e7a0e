import WebSocketWire

/// A decoded TCP segment whose payload points into the packet's bytes.
///
/// Valid only as long as the packet buffer it came from (the duration of the
/// reader's callback).
public struct TCPSegment {
    public var source: IPAddress
    public var destination: IPAddress
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    public var sequenceNumber: UInt32
    public var acknowledgmentNumber: UInt32
    public var flags: TCPFlags
    /// The captured payload bytes.
    public var payload: UnsafeRawBufferPointer
    /// The payload length the IP header declares; larger than `payload.count`
    /// when the capture's snap length cut the packet.
    public var payloadLength: Int

    @inlinable
    public init(
        source: IPAddress, destination: IPAddress,
        sourcePort: UInt16, destinationPort: UInt16,
        sequenceNumber: UInt32, acknowledgmentNumber: UInt32,
        flags: TCPFlags, payload: UnsafeRawBufferPointer, payloadLength: Int? = nil
    ) {
        self.source = source
        self.destination = destination
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.sequenceNumber = sequenceNumber
        self.acknowledgmentNumber = acknowledgmentNumber
        self.flags = flags
        self.payload = payload
        self.payloadLength = payloadLength ?? payload.count
    }

    /// Whether the capture holds fewer payload bytes than were sent.
    @inlinable
    public var isTruncated: Bool { payload.count < payloadLength }

    /// The sender as text (allocates; not for per-packet use).
    public var sourceEndpoint: Endpoint { Endpoint(address: source.description, port: sourcePort) }
    /// The receiver as text (allocates; not for per-packet use).
    public var destinationEndpoint: Endpoint { Endpoint(address: destination.description, port: destinationPort) }
}
