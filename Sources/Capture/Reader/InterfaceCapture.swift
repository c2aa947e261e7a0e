import CPcap
import Synchronization
import WebSocketWire
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Captures the packets crossing a network interface through libpcap (`wsdoctor sniff`).
///
/// Packets are stamped in nanoseconds by the kernel's real-time clock, the same scale
/// as ``PcapFileReader`` and ``wallClockNow()``. Reading happens on one thread; only
/// ``stop()`` may be called from another.
public final class InterfaceCapture: @unchecked Sendable {
    public struct Options: Sendable {
        /// Bytes kept of each packet. 256 KiB keeps whole segments even with offloads.
        public var snapLength = 262_144
        /// The kernel's ring for packets not yet read. Bursts beyond it are dropped and counted.
        public var bufferSize = 16 * 1024 * 1024
        /// Also capture frames addressed to other hosts (needs CAP_NET_ADMIN).
        public var promiscuous = false
        /// How long one read waits for a packet before returning, so the caller can do its
        /// periodic work on a quiet link.
        public var quietTimeoutMilliseconds: Int32 = 200

        public init() {}
    }

    /// What the kernel said about the capture (`pcap_stats`).
    public struct KernelStatistics: Sendable, Hashable {
        public var received: UInt32
        /// Packets the kernel dropped because wsdoctor did not read them fast enough.
        public var dropped: UInt32
        /// Packets the interface or its driver dropped.
        public var droppedByInterface: UInt32
    }

    public enum ReadOutcome: Sendable, Equatable {
        /// Packets were delivered (up to `limit`, or all that were waiting); more may come.
        case more
        /// The read timeout passed with nothing further to read.
        case quiet
        /// ``stop()`` was called.
        case stopped
    }

    public let interface: String
    public let linkType: Int32
    /// Packets delivered so far (after the filter).
    public private(set) var packetsRead = 0
    /// What libpcap warned about while starting, if anything (e.g. no promiscuous mode).
    public let warning: String?

    private let handle: OpaquePointer
    private let descriptor: Int32
    private let nanosecondStamps: Bool
    private let quietTimeout: Int32
    /// The file every packet is also written to (``write(to:)``), and why writing stopped.
    private var dumper: OpaquePointer?
    public private(set) var writePath: String?
    /// Set when writing the file failed (disk full…); capturing goes on without it.
    public private(set) var writeError: CaptureError?
    /// Set by ``stop()``: libpcap's own break flag is not checked by non-blocking reads.
    private let stopRequested = Atomic<Bool>(false)

    /// Starts capturing on `interface` (e.g. `eth0`, `lo`, `any`) with an optional BPF filter.
    ///
    /// Throws ``CaptureError`` with reason `captureNotPermitted` when the process lacks
    /// CAP_NET_RAW, `noSuchInterface` (listing the interfaces there are), `badFilter`, or
    /// `interfaceFailed`.
    public init(interface: String, filter: String? = nil, options: Options = Options()) throws(CaptureError) {
        self.interface = interface
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard let handle = pcap_create(interface, &errorBuffer) else {
            throw .interfaceFailed(interface, detail: PcapHandle.errorText(errorBuffer))
        }
        pcap_set_snaplen(handle, Int32(options.snapLength))
        pcap_set_promisc(handle, options.promiscuous ? 1 : 0)
        // Deliver each packet as it arrives: a live diagnosis should not wait for a buffer to
        // fill. Immediate mode ignores the read timeout, so reads are non-blocking and the
        // waiting is done with poll(2), which does time out on a quiet link.
        pcap_set_immediate_mode(handle, 1)
        pcap_set_buffer_size(handle, Int32(options.bufferSize))
        // Not every platform stamps in nanoseconds; microseconds are scaled up then.
        let askedForNanoseconds = pcap_set_tstamp_precision(handle, Int32(PCAP_TSTAMP_PRECISION_NANO)) == 0
        let status = pcap_activate(handle)
        if status < 0 {
            let error = Self.activationError(status, handle: handle, interface: interface)
            pcap_close(handle)
            throw error
        }
        warning = status > 0 ? String(cString: pcap_geterr(handle)) : nil
        if let filter {
            do throws(CaptureError) {
                try PcapHandle.install(filter: filter, on: handle, source: interface)
            } catch {
                pcap_close(handle)
                throw error
            }
        }
        let descriptor = pcap_get_selectable_fd(handle)
        guard descriptor >= 0, pcap_setnonblock(handle, 1, &errorBuffer) == 0 else {
            pcap_close(handle)
            throw .interfaceFailed(interface, detail: "cannot wait for packets without blocking: \(PcapHandle.errorText(errorBuffer))")
        }
        self.handle = handle
        self.nanosecondStamps = askedForNanoseconds && pcap_get_tstamp_precision(handle) == Int32(PCAP_TSTAMP_PRECISION_NANO)
        self.descriptor = descriptor
        self.quietTimeout = options.quietTimeoutMilliseconds
        self.linkType = pcap_datalink(handle)
    }

    deinit {
        if let dumper { pcap_dump_close(dumper) }
        pcap_close(handle)
    }

    /// Also writes every packet read from now on, as captured, to `path` (pcap; nanosecond
    /// stamps when the capture has them), for Wireshark or a later `wsdoctor replay`.
    public func write(to path: String) throws(CaptureError) {
        guard let opened = pcap_dump_open(handle, path) else {
            throw .cannotOpen(path, detail: String(cString: pcap_geterr(handle)))
        }
        dumper = opened
        writePath = path
    }

    /// Pushes what was written to the file; a failure is kept in ``writeError`` and ends writing.
    private func flushWrites() {
        guard let dumper, let writePath else { return }
        if pcap_dump_flush(dumper) != 0 {
            writeError = .writeFailed(writePath, detail: String(cString: strerror(errno)))
            pcap_dump_close(dumper)
            self.dumper = nil
        }
    }

    public var linkTypeName: String? { PcapHandle.linkTypeName(linkType) }

    /// Delivers packets as they arrive, at most `limit` per call, without copying the bytes.
    ///
    /// Returns after `limit` packets or what was waiting, after the quiet timeout with
    /// nothing to read, or once ``stop()`` has been called (within the quiet timeout).
    public func read(limit: Int, _ body: (CapturedPacket) -> Void) throws(CaptureError) -> ReadOutcome {
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        var delivered = 0
        defer { if delivered > 0 { flushWrites() } }
        while delivered < limit {
            if stopRequested.load(ordering: .relaxed) { return .stopped }
            switch pcap_next_ex(handle, &header, &data) {
            case 1:
                guard let header, let data else { continue }
                packetsRead += 1
                delivered += 1
                if let dumper { pcap_dump(UnsafeMutablePointer(dumper), header, data) }
                body(PcapHandle.packet(header, data, linkType: linkType, nanosecondStamps: nanosecondStamps))
            case 0:
                // Nothing waiting: sleep until a packet comes or the quiet timeout passes.
                if delivered > 0 { return .more }
                var waiting = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                let ready = poll(&waiting, 1, quietTimeout)
                if ready == 0 { return .quiet }
                if ready < 0 && errno != EINTR {
                    throw .interfaceFailed(interface, detail: "poll: \(String(cString: strerror(errno)))")
                }
            default:
                throw .interfaceFailed(interface, detail: String(cString: pcap_geterr(handle)))
            }
        }
        return .more
    }

    /// Makes the current or next ``read(limit:_:)`` return `.stopped`. Safe from any thread.
    public func stop() {
        stopRequested.store(true, ordering: .relaxed)
    }

    public func kernelStatistics() -> KernelStatistics? {
        var stats = pcap_stat()
        guard pcap_stats(handle, &stats) == 0 else { return nil }
        return KernelStatistics(received: stats.ps_recv, dropped: stats.ps_drop, droppedByInterface: stats.ps_ifdrop)
    }

    /// The interfaces libpcap can capture on, by name.
    public static func interfaceNames() -> [String] {
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        var first: UnsafeMutablePointer<pcap_if_t>?
        guard pcap_findalldevs(&first, &errorBuffer) == 0 else { return [] }
        defer { pcap_freealldevs(first) }
        var names: [String] = []
        var next = first
        while let entry = next {
            names.append(String(cString: entry.pointee.name))
            next = entry.pointee.next
        }
        return names
    }

    private static func activationError(_ status: Int32, handle: OpaquePointer, interface: String) -> CaptureError {
        let message = String(cString: pcap_geterr(handle))
        let detail = message.isEmpty ? String(cString: pcap_statustostr(status)) : message
        switch status {
        case PCAP_ERROR_PERM_DENIED:
            return .captureNotPermitted(interface, detail: detail)
        case PCAP_ERROR_NO_SUCH_DEVICE:
            return .noSuchInterface(interface, available: interfaceNames())
        case PCAP_ERROR_IFACE_NOT_UP:
            return .interfaceFailed(interface, detail: "the interface is down")
        default:
            // Older kernels and some sandboxes report a missing capability as a plain socket error.
            let lowered = detail.lowercased()
            if lowered.contains("operation not permitted") || lowered.contains("permission denied") {
                return .captureNotPermitted(interface, detail: detail)
            }
            return .interfaceFailed(interface, detail: detail)
        }
    }
}
