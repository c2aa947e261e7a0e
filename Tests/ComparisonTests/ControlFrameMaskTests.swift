import Comparison
import Foundation
import Testing

/// A control frame sent on with another masking key: the socat recording with the client's
/// ping and close re-masked in the near-server capture (same bytes once unmasked, same
/// length, so the TCP stream is otherwise as recorded).
@Suite struct ControlFrameMaskTests {
    @Test func aControlFrameWithANewMaskKeyIsRemasked() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let files = comparisonFixture("socat")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: files.nearServer))
        // The client's ping "are you there" (13 bytes) and close 1000 "done" (6 bytes).
        try remask(opcode: 0x9, payload: Array("are you there".utf8), in: &bytes)
        try remask(opcode: 0x8, payload: [0x03, 0xE8] + Array("done".utf8), in: &bytes)
        let remasked = folder.appendingPathComponent("remasked.pcap").path
        try bytes.write(to: URL(fileURLWithPath: remasked))

        let pair = try #require(try compare(nearClient: files.nearClient, nearServer: remasked).pairs.first)
        let changes = pair.changes.filter { $0.kind == .remasked }
        #expect(changes.count == 2, "\(pair.changes)")
        #expect(changes.allSatisfy { $0.direction == .clientToServer && $0.nearClientFrame != nil && $0.nearServerFrame != nil })
        #expect(changes.map(\.detail) == ["ping (13 bytes): a new mask key on the near-server leg",
                                          "close frame: a new mask key on the near-server leg"])
        #expect(!pair.changes.contains { $0.kind == .controlDropped || $0.kind == .controlInjected || $0.kind == .closeRewritten })
    }

    /// Gives the one masked frame with `opcode` and `payload` another masking key, its payload
    /// masked anew.
    private func remask(opcode: UInt8, payload: [UInt8], in bytes: inout Data) throws {
        let header = Data([0x80 | opcode, 0x80 | UInt8(payload.count)])
        var found: [Int] = []
        var from = bytes.startIndex
        while let range = bytes.range(of: header, in: from..<bytes.endIndex) {
            let key = Array(bytes[range.upperBound..<range.upperBound + 4])
            let masked = bytes[range.upperBound + 4..<range.upperBound + 4 + payload.count]
            if masked.enumerated().map({ $0.element ^ key[$0.offset % 4] }) == payload { found.append(range.upperBound) }
            from = range.upperBound
        }
        guard found.count == 1, let keyAt = found.first else { throw ComparisonTestError("\(found.count) such frames") }
        let key = Array(bytes[keyAt..<keyAt + 4])
        let newKey = key.map { $0 ^ 0x5A }
        for offset in payload.indices {
            bytes[keyAt + 4 + offset] ^= key[offset % 4] ^ newKey[offset % 4]
        }
        bytes.replaceSubrange(keyAt..<keyAt + 4, with: newKey)
    }
}
