import CPcap
import WebSocketWire

/// Pieces both readers (file and interface) share.
enum PcapHandle {
    /// Compiles `filter` (tcpdump syntax) and installs it on `handle`.
    static func install(filter: String, on handle: OpaquePointer, source: String) throws(CaptureError) {
        var program = bpf_program()
        guard pcap_compile(handle, &program, filter, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
            throw .badFilter(source, filter: filter, detail: String(cString: pcap_geterr(handle)))
        }
        defer { pcap_freecode(&program) }
        guard pcap_setfilter(handle, &program) == 0 else {
            throw .badFilter(source, filter: filter, detail: String(cString: pcap_geterr(handle)))
        }
    }

    /// The packet libpcap just returned. `nanosecondStamps`: the handle was given nanosecond
    /// precision, so `tv_usec` holds nanoseconds.
    @inline(__always)
    static func packet(_ header: UnsafeMutablePointer<pcap_pkthdr>, _ data: UnsafePointer<UInt8>, linkType: Int32,
                       nanosecondStamps: Bool = true) -> CapturedPacket {
        let h = header.pointee
        let fraction = nanosecondStamps ? Int64(h.ts.tv_usec) : Int64(h.ts.tv_usec) &* 1_000
        let nanos = Int64(h.ts.tv_sec) &* 1_000_000_000 &+ fraction
        return CapturedPacket(
            timestamp: Timestamp(nanoseconds: nanos),
            linkType: linkType,
            bytes: UnsafeRawBufferPointer(start: data, count: Int(h.caplen)),
            originalLength: Int(h.len)
        )
    }

    /// The libpcap name of a link type, e.g. `EN10MB`.
    static func linkTypeName(_ linkType: Int32) -> String? {
        pcap_datalink_val_to_name(linkType).map { String(cString: $0) }
    }

    static func errorText(_ buffer: [CChar]) -> String {
        buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}
