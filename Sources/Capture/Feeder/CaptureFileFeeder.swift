import Diagnosis

/// Reads a capture file and feeds its TCP streams to a ``TCPStreamDelegate``.
///
/// Runs ``PcapFileReader`` → ``PacketDecoder`` → ``TCPReassembler``. If the
/// file turns out to be truncated or unreadable part-way, everything before
/// the bad spot is delivered and the open connections are flushed and ended
/// (``TCPStreamDelegate/captureEnded(_:at:)``) before the error is thrown;
/// ``statistics`` then still describes what was read.
public final class CaptureFileFeeder {
    /// What one run read and skipped.
    public struct Statistics: Sendable, Hashable {
        /// Packets libpcap delivered (after the BPF filter).
        public var packetsRead = 0
        /// TCP segments handed to the reassembler.
        public var tcpSegments = 0
        /// Packets that were not TCP over IPv4/IPv6.
        public var nonTCPSkipped = 0
        /// Packets the snap length cut inside a header (skipped) or inside the payload
        /// (headers used, the missing payload reported as a gap).
        public var truncatedPackets = 0
        /// IPv4 and IPv6 fragments, skipped.
        public var fragmentsSkipped = 0
        /// Packets with impossible header fields, skipped.
        public var malformedPackets = 0
        /// The reassembler's counters (connections, gaps, missing bytes…).
        public var reassembly = TCPReassembler.Statistics()

        /// Gaps reported across all connections.
        public var gaps: Int { reassembly.gaps }

        public init() {}
    }

    public let path: String
    public let filter: String?
    public let configuration: TCPReassembler.Configuration
    public private(set) var statistics = Statistics()

    /// - Parameters:
    ///   - path: the pcap or pcapng file.
    ///   - filter: an optional BPF filter (tcpdump syntax) applied by libpcap.
    ///   - configuration: reassembly limits and server ports.
    public init(path: String, filter: String? = nil, configuration: TCPReassembler.Configuration = .init()) {
        self.path = path
        self.filter = filter
        self.configuration = configuration
    }

    /// Reads the whole file, reporting to `delegate`, and returns the statistics.
    @discardableResult
    public func run(delegate: any TCPStreamDelegate) throws(CaptureError) -> Statistics {
        statistics = Statistics()
        let reader = try PcapFileReader(path: path, filter: filter)
        guard LinkType.isSupported(reader.linkType) else {
            throw .unsupportedLinkType(path, linkType: reader.linkType, name: reader.linkTypeName)
        }
        let reassembler = TCPReassembler(configuration: configuration, delegate: delegate)
        var counts = Statistics()
        var last = Timestamp(nanoseconds: 0)
        var failure: CaptureError?
        do {
            try reader.forEachPacket { packet in
                counts.packetsRead += 1
                last = packet.timestamp
                switch PacketDecoder.decode(linkType: packet.linkType, bytes: packet.bytes) {
                case .tcp(let segment):
                    counts.tcpSegments += 1
                    if segment.isTruncated { counts.truncatedPackets += 1 }
                    reassembler.process(segment, at: packet.timestamp)
                case .notTCP, .unsupportedLinkType:
                    counts.nonTCPSkipped += 1
                case .truncated:
                    counts.truncatedPackets += 1
                case .fragment:
                    counts.fragmentsSkipped += 1
                case .malformed:
                    counts.malformedPackets += 1
                }
            }
        } catch {
            failure = error
        }
        reassembler.finish(at: last)
        counts.reassembly = reassembler.statistics
        statistics = counts
        if let failure { throw failure }
        return counts
    }
}
