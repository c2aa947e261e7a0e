import Capture
import CPcap
import WebSocketWire
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Builds Ethernet + IPv4/IPv6 + TCP packets in one reused buffer and appends them to a
/// classic pcap file through libpcap (`pcap_dump`), with nanosecond timestamps.
///
/// Headers carry correct lengths and checksums (IPv4 header checksum; TCP checksum over
/// the RFC 793 / RFC 8200 §8.1 pseudo-header), fixed locally administered MAC addresses
/// (client `02:00:00:00:00:01`, server `02:00:00:00:00:02`), TTL/hop limit 64, DF set
/// and IP identification 0 (RFC 6864 allows it for atomic datagrams). Not thread-safe;
/// ``CaptureRecorder`` serialises all use.
final class PacketWriter {
    /// Room for the largest packet: Ethernet, IPv6 and TCP with options, then the payload.
    static let headroom = 14 + 40 + 28
    /// The snap length written in the file header: libpcap's usual maximum, above any packet written.
    static let snapLength: Int32 = 262_144

    let path: String
    private let dead: OpaquePointer
    private let dumper: OpaquePointer
    private let buffer: UnsafeMutableRawBufferPointer
    private var isClosed = false

    private static let clientMAC: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0x02, 0, 0, 0, 0, 0x01)
    private static let serverMAC: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0x02, 0, 0, 0, 0, 0x02)

    /// Creates (truncating) `path`; `maxPayload` sizes the packet buffer.
    init(path: String, maxPayload: Int) throws(RecordingError) {
        guard let dead = pcap_open_dead_with_tstamp_precision(
            DLT_EN10MB, Self.snapLength, UInt32(PCAP_TSTAMP_PRECISION_NANO)
        ) else {
            throw .cannotOpen(path, detail: "pcap_open_dead failed")
        }
        guard let dumper = pcap_dump_open(dead, path) else {
            let detail = String(cString: pcap_geterr(dead))
            pcap_close(dead)
            throw .cannotOpen(path, detail: detail)
        }
        self.path = path
        self.dead = dead
        self.dumper = dumper
        self.buffer = .allocate(byteCount: Self.headroom + maxPayload, alignment: 8)
    }

    deinit {
        _ = close()
        buffer.deallocate()
    }

    /// Writes one segment of `flow`; `payload` must fit the buffer given at init.
    func write(_ segment: RecordedConnection.Segment, of flow: RecordedFlow,
               payload: UnsafeRawBufferPointer, at time: Timestamp) {
        let b = buffer
        let fromClient = segment.from == .client
        let ipHeader = flow.isIPv6 ? 40 : 20
        let tcpHeader = segment.synOptions ? 28 : 20
        let tcpLength = tcpHeader + payload.count
        let total = 14 + ipHeader + tcpLength
        precondition(total <= b.count, "segment payload larger than the recorder's buffer")

        // Ethernet: destination, source, EtherType.
        withUnsafeBytes(of: fromClient ? Self.serverMAC : Self.clientMAC) { b.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: 6) }
        withUnsafeBytes(of: fromClient ? Self.clientMAC : Self.serverMAC) { (b.baseAddress! + 6).copyMemory(from: $0.baseAddress!, byteCount: 6) }
        b.storeBytes(of: (flow.isIPv6 ? 0x86DD as UInt16 : 0x0800).bigEndian, toByteOffset: 12, as: UInt16.self)

        let source = fromClient ? flow.client : flow.server
        let destination = fromClient ? flow.server : flow.client
        let ip = 14
        var checksum = InternetChecksum()
        if flow.isIPv6 {
            b.storeBytes(of: UInt32(0x6000_0000).bigEndian, toByteOffset: ip, as: UInt32.self)
            b.storeBytes(of: UInt16(tcpLength).bigEndian, toByteOffset: ip + 4, as: UInt16.self)
            b[ip + 6] = 6  // next header: TCP
            b[ip + 7] = 64  // hop limit
            b.storeBytes(of: source.high.bigEndian, toByteOffset: ip + 8, as: UInt64.self)
            b.storeBytes(of: source.low.bigEndian, toByteOffset: ip + 16, as: UInt64.self)
            b.storeBytes(of: destination.high.bigEndian, toByteOffset: ip + 24, as: UInt64.self)
            b.storeBytes(of: destination.low.bigEndian, toByteOffset: ip + 32, as: UInt64.self)
            // Pseudo-header: both addresses, 32-bit TCP length, 3 zero bytes, next header.
            checksum.add(UnsafeRawBufferPointer(rebasing: b[(ip + 8)..<(ip + 40)]))
            withUnsafeBytes(of: (UInt64(tcpLength) << 32 | 6).bigEndian) { checksum.add($0) }
        } else {
            b[ip] = 0x45  // version 4, 20-byte header
            b[ip + 1] = 0
            b.storeBytes(of: UInt16(20 + tcpLength).bigEndian, toByteOffset: ip + 2, as: UInt16.self)
            b.storeBytes(of: UInt16(0).bigEndian, toByteOffset: ip + 4, as: UInt16.self)  // identification
            b.storeBytes(of: UInt16(0x4000).bigEndian, toByteOffset: ip + 6, as: UInt16.self)  // DF, offset 0
            b[ip + 8] = 64  // TTL
            b[ip + 9] = 6  // TCP
            b.storeBytes(of: UInt16(0), toByteOffset: ip + 10, as: UInt16.self)
            b.storeBytes(of: UInt32(truncatingIfNeeded: source.low).bigEndian, toByteOffset: ip + 12, as: UInt32.self)
            b.storeBytes(of: UInt32(truncatingIfNeeded: destination.low).bigEndian, toByteOffset: ip + 16, as: UInt32.self)
            var header = InternetChecksum()
            header.add(UnsafeRawBufferPointer(rebasing: b[ip..<(ip + 20)]))
            b.storeBytes(of: header.value, toByteOffset: ip + 10, as: UInt16.self)
            // Pseudo-header: both addresses, zero, protocol, 16-bit TCP length.
            checksum.add(UnsafeRawBufferPointer(rebasing: b[(ip + 12)..<(ip + 20)]))
            withUnsafeBytes(of: (UInt32(6) << 16 | UInt32(tcpLength)).bigEndian) { checksum.add($0) }
        }

        let tcp = ip + ipHeader
        b.storeBytes(of: (fromClient ? flow.clientPort : flow.serverPort).bigEndian, toByteOffset: tcp, as: UInt16.self)
        b.storeBytes(of: (fromClient ? flow.serverPort : flow.clientPort).bigEndian, toByteOffset: tcp + 2, as: UInt16.self)
        b.storeBytes(of: segment.sequence.bigEndian, toByteOffset: tcp + 4, as: UInt32.self)
        b.storeBytes(of: segment.acknowledgment.bigEndian, toByteOffset: tcp + 8, as: UInt32.self)
        b[tcp + 12] = UInt8(tcpHeader / 4) << 4
        b[tcp + 13] = segment.flags.rawValue
        b.storeBytes(of: UInt16(0xffff).bigEndian, toByteOffset: tcp + 14, as: UInt16.self)  // window
        b.storeBytes(of: UInt16(0), toByteOffset: tcp + 16, as: UInt16.self)  // checksum, filled below
        b.storeBytes(of: UInt16(0), toByteOffset: tcp + 18, as: UInt16.self)  // urgent pointer
        if segment.synOptions {
            // MSS (kind 2, length 4), NOP, window scale (kind 3, length 3, shift).
            b[tcp + 20] = 2
            b[tcp + 21] = 4
            b.storeBytes(of: RecordedConnection.maximumSegmentSize.bigEndian, toByteOffset: tcp + 22, as: UInt16.self)
            b[tcp + 24] = 1
            b[tcp + 25] = 3
            b[tcp + 26] = 3
            b[tcp + 27] = RecordedConnection.windowScale
        }
        if let source = payload.baseAddress, payload.count > 0 {
            (b.baseAddress! + tcp + tcpHeader).copyMemory(from: source, byteCount: payload.count)
        }
        checksum.add(UnsafeRawBufferPointer(rebasing: b[tcp..<total]))
        b.storeBytes(of: checksum.value, toByteOffset: tcp + 16, as: UInt16.self)

        var header = pcap_pkthdr()
        // Floor division, so times before 1970 still give a fraction in 0..<1e9.
        var seconds = time.nanoseconds / 1_000_000_000
        var fraction = time.nanoseconds % 1_000_000_000
        if fraction < 0 { seconds -= 1; fraction += 1_000_000_000 }
        header.ts.tv_sec = .init(seconds)
        header.ts.tv_usec = .init(fraction)  // nanoseconds: the file was opened with nanosecond precision
        header.caplen = UInt32(total)
        header.len = UInt32(total)
        pcap_dump(UnsafeMutablePointer<UInt8>(dumper), &header, b.baseAddress!.assumingMemoryBound(to: UInt8.self))
    }

    /// Flushes libpcap's stdio buffer; the `strerror` text if that failed.
    func flush() -> String? {
        guard !isClosed else { return nil }
        guard pcap_dump_flush(dumper) == 0 else { return String(cString: strerror(errno)) }
        return nil
    }

    /// Flushes and closes the file; the `strerror` text if the final flush failed.
    func close() -> String? {
        guard !isClosed else { return nil }
        let failure = flush()
        isClosed = true
        pcap_dump_close(dumper)
        pcap_close(dead)
        return failure
    }
}
