import WebSocketWire

/// Receives the reassembled streams and transport events of ``TCPReassembler``, in capture order.
///
/// For one connection the order is: `connectionOpened`, then any mix of
/// `received` and `gap` per side, each side's `finished` after all its bytes,
/// and at most one of `reset`, `captureEnded` or `stoppedTracking` — unless both sides finished,
/// which ends the connection with no further event.
public protocol TCPStreamDelegate: AnyObject {
    /// A connection was seen for the first time. `sawSYN` is false when the capture
    /// started mid-connection; `sidesGuessed` is true when neither a SYN nor a
    /// configured server port said which side is the client.
    func connectionOpened(_ id: TCPConnectionID, client: Endpoint, server: Endpoint, at: Timestamp, sawSYN: Bool, sidesGuessed: Bool)
    /// The next in-order bytes from `from`; valid only during the call.
    func received(_ id: TCPConnectionID, from: Side, bytes: UnsafeRawBufferPointer, at: Timestamp)
    /// `missingBytes` bytes from `from` were sent but are not in the capture.
    func gap(_ id: TCPConnectionID, from: Side, missingBytes: Int64, at: Timestamp)
    /// `from` sent FIN, delivered after all bytes before it.
    func finished(_ id: TCPConnectionID, from: Side, at: Timestamp)
    /// `from` sent RST; the connection is over.
    func reset(_ id: TCPConnectionID, from: Side, at: Timestamp)
    /// The capture ended while the connection was open (not FIN both ways, no RST).
    func captureEnded(_ id: TCPConnectionID, at: Timestamp)
    /// A live capture gave up on the connection after seeing nothing on it since
    /// `lastSegmentAt` (see ``TCPReassembler/expireIdle(before:at:)``).
    func stoppedTracking(_ id: TCPConnectionID, lastSegmentAt: Timestamp, at: Timestamp)
}

extension TCPStreamDelegate {
    /// By default a connection given up on is treated as one the capture ended on.
    public func stoppedTracking(_ id: TCPConnectionID, lastSegmentAt: Timestamp, at time: Timestamp) {
        captureEnded(id, at: time)
    }
}
