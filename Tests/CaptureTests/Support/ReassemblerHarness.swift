import Capture
import Diagnosis
import WebSocketWire

/// Drives a ``TCPReassembler`` with hand-made segments; each call is 1 ms later.
final class ReassemblerHarness {
    struct Peer {
        var address: IPAddress
        var port: UInt16
    }

    let delegate = RecordingDelegate()
    let reassembler: TCPReassembler
    private(set) var clock: Int64 = 0

    static let client = Peer(address: IPAddress(ipv4: 0x0a00_0001), port: 50000)
    static let server = Peer(address: IPAddress(ipv4: 0x0a00_0002), port: 80)

    init(_ configuration: TCPReassembler.Configuration = .init()) {
        reassembler = TCPReassembler(configuration: configuration, delegate: delegate)
    }

    var events: [RecordingDelegate.Event] { delegate.events }

    func send(
        from: Peer, to: Peer, seq: UInt32, ack: UInt32 = 0, flags: TCPFlags = .ack,
        _ payload: String = "", declaredLength: Int? = nil
    ) {
        clock += 1_000_000
        let bytes = Array(payload.utf8)
        bytes.withUnsafeBytes { raw in
            reassembler.process(
                TCPSegment(
                    source: from.address, destination: to.address,
                    sourcePort: from.port, destinationPort: to.port,
                    sequenceNumber: seq, acknowledgmentNumber: ack, flags: flags,
                    payload: raw, payloadLength: declaredLength
                ),
                at: Timestamp(nanoseconds: clock)
            )
        }
    }

    /// Client → server with the default peers.
    func c(_ seq: UInt32, ack: UInt32 = 0, _ flags: TCPFlags = .ack, _ payload: String = "", declaredLength: Int? = nil) {
        send(from: Self.client, to: Self.server, seq: seq, ack: ack, flags: flags, payload, declaredLength: declaredLength)
    }

    /// Server → client with the default peers.
    func s(_ seq: UInt32, ack: UInt32 = 0, _ flags: TCPFlags = .ack, _ payload: String = "", declaredLength: Int? = nil) {
        send(from: Self.server, to: Self.client, seq: seq, ack: ack, flags: flags, payload, declaredLength: declaredLength)
    }

    /// Client → server data with the ACK flag.
    func c(_ seq: UInt32, ack: UInt32 = 0, _ payload: String, declaredLength: Int? = nil) {
        c(seq, ack: ack, .ack, payload, declaredLength: declaredLength)
    }

    /// Server → client data with the ACK flag.
    func s(_ seq: UInt32, ack: UInt32 = 0, _ payload: String, declaredLength: Int? = nil) {
        s(seq, ack: ack, .ack, payload, declaredLength: declaredLength)
    }

    /// SYN, SYN-ACK, ACK with client ISN `c` and server ISN `s`.
    func handshake(client c: UInt32, server s: UInt32) {
        self.c(c, .syn)
        self.s(s, ack: c &+ 1, [.syn, .ack])
        self.c(c &+ 1, ack: s &+ 1, .ack)
    }

    func finish() {
        clock += 1_000_000
        reassembler.finish(at: Timestamp(nanoseconds: clock))
    }

    static let opened = RecordingDelegate.Event.opened(1, client: "10.0.0.1:50000", server: "10.0.0.2:80", sawSYN: true, sidesGuessed: false)
}
