import WebSocketWire

/// Reads a capture file one packet at a time and feeds its TCP streams to a
/// ``TCPStreamDelegate``: what ``CaptureFileFeeder`` does in one call, in steps, so that two
/// captures can be read side by side in time order (`wsdoctor compare`).
///
/// When the file ends, or turns out truncated or unreadable part-way, the open connections
/// are flushed and ended before `step` returns nil or throws.
public final class CaptureFileStepper {
    private let reader: PcapFileReader
    private var intake: PacketIntake
    private var ended = false

    public init(path: String, filter: String? = nil, configuration: TCPReassembler.Configuration = .init(),
                delegate: any TCPStreamDelegate) throws(CaptureError) {
        reader = try PcapFileReader(path: path, filter: filter)
        guard LinkType.isSupported(reader.linkType) else {
            throw .unsupportedLinkType(path, linkType: reader.linkType, name: reader.linkTypeName)
        }
        intake = PacketIntake(reassembler: TCPReassembler(configuration: configuration, delegate: delegate))
    }

    /// What was read and skipped so far.
    public var statistics: CaptureStatistics { intake.current }

    /// Feeds the next packet and returns its time; nil once the file is exhausted.
    public func step() throws(CaptureError) -> Timestamp? {
        guard !ended else { return nil }
        let packet: CapturedPacket?
        do {
            packet = try reader.nextPacket()
        } catch {
            end()
            throw error
        }
        guard let packet else {
            end()
            return nil
        }
        intake.take(packet)
        return packet.timestamp
    }

    private func end() {
        ended = true
        intake.reassembler.finish(at: intake.last)
    }
}
