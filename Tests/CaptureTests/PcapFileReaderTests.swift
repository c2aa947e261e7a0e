import Capture
import Foundation
import Testing

@Suite struct PcapFileReaderTests {
    typealias W = CaptureFileWriter

    struct ReadPacket: Equatable {
        var nanoseconds: Int64
        var linkType: Int32
        var bytes: [UInt8]
        var originalLength: Int
    }

    /// Reads every packet; returns those delivered and the error, if any.
    func readAll(_ path: String, filter: String? = nil) -> ([ReadPacket], CaptureError?) {
        var packets: [ReadPacket] = []
        do {
            let reader = try PcapFileReader(path: path, filter: filter)
            try reader.forEachPacket { packet in
                packets.append(ReadPacket(
                    nanoseconds: packet.timestamp.nanoseconds, linkType: packet.linkType,
                    bytes: Array(packet.bytes), originalLength: packet.originalLength
                ))
            }
            return (packets, nil)
        } catch {
            return (packets, error)
        }
    }

    static let time: Int64 = 1_700_000_000_123_456_789
    static let samples: [TestPacket] = (0..<3).map { index in
        TestPacket(Conversation().exchange()[index + 3], at: time + Int64(index) * 1_000_000_001)
    }

    @Test(arguments: [false, true])
    func classicPcapGivesNanosecondTimestamps(nanosecond: Bool) {
        let path = W.writePcap(linkType: LinkType.raw, nanosecond: nanosecond, packets: Self.samples)
        defer { W.remove(path) }
        let (packets, error) = readAll(path)
        #expect(error == nil)
        let expected = Self.samples.map { sample in
            ReadPacket(
                nanoseconds: nanosecond ? sample.nanoseconds : sample.nanoseconds / 1000 * 1000,
                linkType: LinkType.raw, bytes: sample.bytes, originalLength: sample.bytes.count
            )
        }
        #expect(packets == expected)
    }

    @Test func capturedAndOriginalLengthsDiffer() {
        let packet = TestPacket(Array(Self.samples[0].bytes.prefix(30)), originalLength: Self.samples[0].bytes.count)
        let path = W.writePcap(linkType: LinkType.raw, nanosecond: true, packets: [packet], snapLength: 30)
        defer { W.remove(path) }
        let (packets, error) = readAll(path)
        #expect(error == nil)
        #expect(packets.first?.bytes.count == 30)
        #expect(packets.first?.originalLength == Self.samples[0].bytes.count)
    }

    @Test(arguments: [false, true], [false, true])
    func handWrittenPcapNG(bigEndian: Bool, nanosecondResolution: Bool) {
        let path = W.writePcapNG(linkType: 1, bigEndian: bigEndian, nanosecondResolution: nanosecondResolution,
                                 packets: Self.samples.map { TestPacket(PacketBuilder.ethernet(etherType: 0x0800, payload: $0.bytes), at: $0.nanoseconds) })
        defer { W.remove(path) }
        let (packets, error) = readAll(path)
        #expect(error == nil)
        #expect(packets.count == 3)
        #expect(packets.map(\.linkType) == [1, 1, 1])
        #expect(packets.map(\.nanoseconds) == Self.samples.map { nanosecondResolution ? $0.nanoseconds : $0.nanoseconds / 1000 * 1000 })
        #expect(packets.map(\.bytes) == Self.samples.map { PacketBuilder.ethernet(etherType: 0x0800, payload: $0.bytes) })
    }

    @Test func pcapNGFromEditcap() throws {
        let editcap = ["/usr/bin/editcap", "/usr/local/bin/editcap"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let editcap else { return }  // editcap missing; the hand-written pcapng tests cover the format
        let source = W.writePcap(linkType: LinkType.ethernet, nanosecond: true,
                                 packets: Self.samples.map { TestPacket(PacketBuilder.ethernet(etherType: 0x0800, payload: $0.bytes), at: $0.nanoseconds) })
        let converted = W.temporaryPath(".pcapng")
        defer { W.remove(source); W.remove(converted) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: editcap)
        process.arguments = ["-F", "pcapng", source, converted]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0)
        let (packets, error) = readAll(converted)
        #expect(error == nil)
        #expect(packets.map(\.nanoseconds) == Self.samples.map(\.nanoseconds))
        #expect(FileManager.default.contents(atPath: converted)?.prefix(4) == Data([0x0A, 0x0D, 0x0D, 0x0A]))
    }

    @Test func filterSelectsPackets() {
        var other = Conversation()
        other.serverPort = 81
        let path = W.writePcap(linkType: LinkType.raw, nanosecond: true, packets: [
            TestPacket(Conversation().exchange()[3]), TestPacket(other.exchange()[3]), TestPacket(Conversation().exchange()[4]),
        ])
        defer { W.remove(path) }
        let (packets, error) = readAll(path, filter: "tcp port 81")
        #expect(error == nil)
        #expect(packets.map(\.bytes) == [other.exchange()[3]])
    }

    @Test func badFilterIsAClearError() {
        let path = W.writePcap(linkType: LinkType.raw, nanosecond: true, packets: Self.samples)
        defer { W.remove(path) }
        let (_, error) = readAll(path, filter: "tcp prot 80")
        #expect(error?.reason == .badFilter)
        #expect(error?.description.hasPrefix("\(path): bad capture filter 'tcp prot 80'") == true)
    }

    @Test func missingFile() {
        let path = W.temporaryPath(".pcap")
        let (_, error) = readAll(path)
        #expect(error?.reason == .missingFile)
        #expect(error?.description == "\(path): no such file")
    }

    @Test func textFileIsNotACapture() {
        let path = W.temporaryPath(".txt")
        _ = FileManager.default.createFile(atPath: path, contents: Data("GET / HTTP/1.1\r\nHost: example\r\n\r\n".utf8))
        defer { W.remove(path) }
        let (_, error) = readAll(path)
        #expect(error?.reason == .notACaptureFile)
        #expect(error?.description.hasPrefix("\(path): not a pcap or pcapng capture file") == true)
    }

    @Test func emptyFileIsNotACapture() {
        let path = W.temporaryPath(".pcap")
        _ = FileManager.default.createFile(atPath: path, contents: Data())
        defer { W.remove(path) }
        #expect(readAll(path).1?.reason == .notACaptureFile)
    }

    @Test func directoryCannotBeOpened() {
        let (_, error) = readAll(FileManager.default.temporaryDirectory.path)
        #expect(error?.reason == .cannotOpen)
    }

    @Test(arguments: [1, 5, 15, 17])
    func truncatedPcapDeliversGoodPacketsFirst(chopped: Int) {
        let path = W.writePcap(linkType: LinkType.raw, nanosecond: true, packets: Self.samples)
        defer { W.remove(path) }
        W.chop(path, bytes: chopped)
        let (packets, error) = readAll(path)
        #expect(packets.map(\.bytes) == Self.samples.prefix(2).map(\.bytes))
        #expect(error?.reason == .truncatedCapture)
        #expect(error?.description.hasPrefix("\(path): truncated capture") == true)
        #expect(error?.description.contains("2 complete packets before it were read") == true)
    }

    @Test func truncatedPcapNGDeliversGoodPacketsFirst() {
        let path = W.writePcapNG(linkType: 101, bigEndian: false, nanosecondResolution: true, packets: Self.samples)
        defer { W.remove(path) }
        W.chop(path, bytes: 10)
        let (packets, error) = readAll(path)
        #expect(packets.map(\.bytes) == Self.samples.prefix(2).map(\.bytes))
        #expect(error?.reason == .truncatedCapture)
        #expect(error?.path == path)
    }
}
