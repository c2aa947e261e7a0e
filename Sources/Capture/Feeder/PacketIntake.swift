import WebSocketWire

/// What a capture (file or interface) held and what was skipped.
public struct CaptureStatistics: Sendable, Hashable {
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

/// Decodes captured packets and hands their TCP segments to a reassembler, counting the rest.
struct PacketIntake {
    let reassembler: TCPReassembler
    var statistics = CaptureStatistics()
    /// The latest packet time seen.
    var last = Timestamp(nanoseconds: 0)

    init(reassembler: TCPReassembler) {
        self.reassembler = reassembler
    }

    mutating func take(_ packet: CapturedPacket) {
        statistics.packetsRead += 1
        last = packet.timestamp
        switch PacketDecoder.decode(linkType: packet.linkType, bytes: packet.bytes) {
        case .tcp(let segment):
            statistics.tcpSegments += 1
            if segment.isTruncated { statistics.truncatedPackets += 1 }
            reassembler.process(segment, at: packet.timestamp)
        case .notTCP, .unsupportedLinkType:
            statistics.nonTCPSkipped += 1
        case .truncated:
            statistics.truncatedPackets += 1
        case .fragment:
            statistics.fragmentsSkipped += 1
        case .malformed:
            statistics.malformedPackets += 1
        }
    }

    /// The counters, with the reassembler's as they stand now.
    var current: CaptureStatistics {
        var counts = statistics
        counts.reassembly = reassembler.statistics
        return counts
    }
}
