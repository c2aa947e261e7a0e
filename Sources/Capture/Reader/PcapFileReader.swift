import CPcap
import WebSocketWire
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads the packets of a pcap or pcapng file through libpcap.
///
/// libpcap handles both formats and both byte orders; the file is opened with
/// nanosecond precision so microsecond and nanosecond files give the same
/// ``Timestamp`` scale. Not thread-safe: use one reader from one thread.
public final class PcapFileReader {
    /// The path the reader was opened with, used in error messages.
    public let path: String
    /// The capture's DLT link type (`pcap_datalink`).
    public let linkType: Int32
    /// Packets delivered so far (after the filter, if any).
    public private(set) var packetsRead: Int = 0

    private let handle: OpaquePointer

    /// Opens `path` and, if given, installs a BPF `filter` (tcpdump syntax).
    ///
    /// Throws a ``CaptureError`` if the file is missing, is not a capture,
    /// cannot be opened or the filter does not compile.
    public init(path: String, filter: String? = nil) throws(CaptureError) {
        self.path = path
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard let handle = pcap_open_offline_with_tstamp_precision(
            path, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errorBuffer
        ) else {
            throw Self.openError(path: path, detail: PcapHandle.errorText(errorBuffer))
        }
        // Install the filter before `self` owns the handle: a throw after full
        // initialisation would run deinit and close it twice.
        if let filter {
            do throws(CaptureError) {
                try PcapHandle.install(filter: filter, on: handle, source: path)
            } catch {
                pcap_close(handle)
                throw error
            }
        }
        self.handle = handle
        self.linkType = pcap_datalink(handle)
    }

    deinit {
        pcap_close(handle)
    }

    /// The libpcap name of the link type, e.g. `EN10MB`, if it has one.
    public var linkTypeName: String? {
        PcapHandle.linkTypeName(linkType)
    }

    /// Calls `body` for each packet in file order, without copying the bytes.
    ///
    /// On a read error (typically a truncated file) every good packet before it
    /// has already been passed to `body` when the error is thrown.
    public func forEachPacket(_ body: (CapturedPacket) -> Void) throws(CaptureError) {
        while let packet = try nextPacket() { body(packet) }
    }

    /// The next packet in file order, nil at the end of the file. Its bytes are libpcap's
    /// and stay valid only until the next call.
    public func nextPacket() throws(CaptureError) -> CapturedPacket? {
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        while true {
            let status = pcap_next_ex(handle, &header, &data)
            switch status {
            case 1:
                guard let header, let data else { continue }
                packetsRead += 1
                return PcapHandle.packet(header, data, linkType: linkType)
            case 0:
                // Only live captures time out; keep reading.
                continue
            case PCAP_ERROR_BREAK:
                return nil
            default:
                let detail = String(cString: pcap_geterr(handle))
                if detail.lowercased().contains("truncated") {
                    throw .truncatedCapture(path, packetsRead: packetsRead, detail: detail)
                }
                throw .readFailed(path, packetsRead: packetsRead, detail: detail)
            }
        }
    }

    private static func openError(path: String, detail: String) -> CaptureError {
        var info = stat()
        if stat(path, &info) != 0 {
            if errno == ENOENT || errno == ENOTDIR { return .missingFile(path) }
            return .cannotOpen(path, detail: detail)
        }
        if (info.st_mode & S_IFMT) == S_IFDIR { return .cannotOpen(path, detail: "is a directory") }
        let lowered = detail.lowercased()
        if lowered.contains("unknown file format") || lowered.contains("truncated dump file")
            || lowered.contains("bad dump file format") {
            // A file too short for a header is not a capture either.
            return .notACaptureFile(path, detail: detail)
        }
        return .cannotOpen(path, detail: detail)
    }
}
