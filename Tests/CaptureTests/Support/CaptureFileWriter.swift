import CPcap
import Foundation

/// One packet to write into a test capture.
struct TestPacket {
    var nanoseconds: Int64
    var bytes: [UInt8]
    /// The on-wire length; defaults to `bytes.count`.
    var originalLength: Int?

    init(_ bytes: [UInt8], at nanoseconds: Int64 = 1_700_000_000_000_000_000, originalLength: Int? = nil) {
        self.bytes = bytes
        self.nanoseconds = nanoseconds
        self.originalLength = originalLength
    }
}

/// Writes test captures: classic pcap through libpcap itself, pcapng by hand.
enum CaptureFileWriter {
    static func temporaryPath(_ suffix: String) -> String {
        FileManager.default.temporaryDirectory
            .appendingPathComponent("wsdoctor-capture-\(UUID().uuidString)\(suffix)").path
    }

    /// A classic pcap written with `pcap_dump`; microsecond files lose the sub-µs digits.
    static func writePcap(linkType: Int32, nanosecond: Bool, packets: [TestPacket], snapLength: Int32 = 262_144) -> String {
        let path = temporaryPath(".pcap")
        let precision = UInt32(nanosecond ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO)
        guard let dead = pcap_open_dead_with_tstamp_precision(linkType, snapLength, precision) else {
            fatalError("pcap_open_dead failed for link type \(linkType)")
        }
        defer { pcap_close(dead) }
        guard let dumper = pcap_dump_open(dead, path) else {
            fatalError("pcap_dump_open failed: \(String(cString: pcap_geterr(dead)))")
        }
        for packet in packets {
            var header = pcap_pkthdr()
            header.ts.tv_sec = Int(packet.nanoseconds / 1_000_000_000)
            let fraction = packet.nanoseconds % 1_000_000_000
            header.ts.tv_usec = Int(nanosecond ? fraction : fraction / 1000)
            header.caplen = UInt32(packet.bytes.count)
            header.len = UInt32(packet.originalLength ?? packet.bytes.count)
            packet.bytes.withUnsafeBufferPointer { data in
                pcap_dump(UnsafeMutablePointer<UInt8>(dumper), &header, data.baseAddress)
            }
        }
        pcap_dump_close(dumper)
        return path
    }

    /// A minimal pcapng (SHB, one IDB, EPBs) in either byte order. With
    /// `nanosecondResolution` the IDB carries `if_tsresol` = 9, else the µs default applies.
    static func writePcapNG(linkType: UInt16, bigEndian: Bool, nanosecondResolution: Bool, packets: [TestPacket]) -> String {
        var out: [UInt8] = []
        func u16(_ v: UInt16) -> [UInt8] { bigEndian ? [UInt8(v >> 8), UInt8(v & 0xff)] : [UInt8(v & 0xff), UInt8(v >> 8)] }
        func u32(_ v: UInt32) -> [UInt8] {
            let b = (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * UInt32($0))) }
            return bigEndian ? b.reversed() : b
        }
        func block(_ type: UInt32, _ body: [UInt8]) {
            var body = body
            while body.count % 4 != 0 { body.append(0) }
            let length = UInt32(12 + body.count)
            out += u32(type) + u32(length) + body + u32(length)
        }
        // Section header: byte-order magic, version 1.0, unknown section length.
        block(0x0A0D_0D0A, u32(0x1A2B_3C4D) + u16(1) + u16(0) + [UInt8](repeating: 0xff, count: 8))
        var options: [UInt8] = []
        if nanosecondResolution { options += u16(9) + u16(1) + [9, 0, 0, 0] }
        options += u16(0) + u16(0)
        block(1, u16(linkType) + u16(0) + u32(262_144) + options)
        for packet in packets {
            let units = nanosecondResolution ? packet.nanoseconds : packet.nanoseconds / 1000
            var body = u32(0) + u32(UInt32(truncatingIfNeeded: units >> 32)) + u32(UInt32(truncatingIfNeeded: units))
            body += u32(UInt32(packet.bytes.count)) + u32(UInt32(packet.originalLength ?? packet.bytes.count))
            body += packet.bytes
            while body.count % 4 != 0 { body.append(0) }
            block(6, body)
        }
        let path = temporaryPath(".pcapng")
        precondition(FileManager.default.createFile(atPath: path, contents: Data(out)))
        return path
    }

    /// Removes the last `count` bytes of a file.
    static func chop(_ path: String, bytes count: Int) {
        let data = FileManager.default.contents(atPath: path)!
        precondition(FileManager.default.createFile(atPath: path, contents: data.dropLast(count)))
    }

    static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }
}
