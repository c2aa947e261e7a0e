import Foundation
import Testing

/// A capture whose clock steps back mid-connection (NTP, a VM resumed, a merged capture):
/// `replay --frames` reports it, with the times before the start shown negative.
@Suite struct ClockStepTests {
    /// `normal-1000.pcap` with packet `index`'s timestamp moved `seconds` back, written to a temporary file.
    static func captureWithClockStep(packet index: Int, back seconds: UInt32) throws -> String {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixturePath("normal-1000.pcap"))))
        // Classic little-endian pcap: a 24-byte file header, then per packet a 16-byte header
        // (seconds, microseconds, captured length, original length) and the packet.
        #expect(Array(bytes[0..<4]) == [0xD4, 0xC3, 0xB2, 0xA1])
        func word(_ offset: Int) -> UInt32 {
            (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * $1) }
        }
        let first = word(24)
        var offset = 24
        for _ in 0..<index { offset += 16 + Int(word(offset + 8)) }
        let stepped = first - seconds
        for byte in 0..<4 { bytes[offset + byte] = UInt8(truncatingIfNeeded: stepped >> (8 * byte)) }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("clock-step-\(UUID().uuidString).pcap").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func framesBeforeTheFirstPacketAreListedWithANegativeTime() throws {
        // Packet 9 carries a client text frame; its clock is 5 s behind the SYN's.
        let path = try Self.captureWithClockStep(packet: 9, back: 5)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try runWSDoctor(["replay", "--frames", path])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stderr.isEmpty)
        #expect(result.stdout.contains("1 connection reported (1 upgraded to WebSocket)"))
        let frameLines = result.stdout.split(separator: "\n").filter { $0.contains(" frame ") }
        #expect(!frameLines.isEmpty)
        #expect(frameLines.contains { $0.hasPrefix("      -4.99") }, "\(frameLines)")
        #expect(frameLines.contains { $0.hasPrefix("      +0.00") })
        #expect(result.stdout.contains("close      client sent 1000"))
    }

    @Test func jsonReportOfTheSameCaptureParses() throws {
        let path = try Self.captureWithClockStep(packet: 9, back: 5)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try runWSDoctor(["replay", "--frames", "--format", "json", path])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let objects = try result.stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(objects.map { $0["type"] as? String } == ["connection", "summary", "categories"])
        #expect((objects[0]["close"] as? [String: Any])?["code"] as? Int == 1000)
    }

    @Test func aClockStepOfYearsBeforeTheEpochStillReports() throws {
        // The SYN itself moved back to 1970 minus nothing: every later packet is decades ahead.
        let path = try Self.captureWithClockStep(packet: 0, back: 1_795_571_715)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try runWSDoctor(["replay", "--frames", path])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stdout.contains("1970-01-01T00:00:00.694655Z"))
        #expect(result.stdout.contains("1 connection reported (1 upgraded to WebSocket)"))
    }
}
