import Testing
import WebSocketWire

@Suite struct UTF8StreamValidatorTests {
    private func firstBad(_ bytes: [UInt8], split: Int? = nil) -> Int64? {
        var validator = UTF8StreamValidator()
        if let split {
            bytes[..<split].withUnsafeBytes { _ = validator.validate($0) }
            bytes[split...].withUnsafeBytes { _ = validator.validate($0) }
        } else {
            bytes.withUnsafeBytes { _ = validator.validate($0) }
        }
        _ = validator.finish()
        return validator.firstInvalidOffset
    }

    @Test func agreesWithTheStandardLibraryOnEveryShortSequence() {
        // Every 1- and 2-byte sequence, and 3-byte ones around the tricky leads.
        var cases: [[UInt8]] = []
        for a in 0...255 { cases.append([UInt8(a)]) }
        for a in 0xC0...0xF5 { for b in stride(from: 0, through: 255, by: 3) { cases.append([UInt8(a), UInt8(b)]) } }
        for a: UInt8 in [0xE0, 0xED, 0xEF, 0xF0, 0xF4] {
            for b in 0x70...0xC0 { cases.append([a, UInt8(b), 0x80]); cases.append([a, UInt8(b), 0x80, 0x80]) }
        }
        for bytes in cases {
            let expected = String(validating: bytes, as: UTF8.self) != nil
            #expect((firstBad(bytes) == nil) == expected, "\(bytes)")
        }
    }

    @Test func agreesWithTheStandardLibraryInsideLongText() {
        // The same sequences with ASCII around them, so they are read by the word-at-a-time path,
        // at every alignment and mask phase.
        let key: [UInt8] = [0x9A, 0x01, 0xFF, 0x5C]
        var sequences: [[UInt8]] = []
        for a in 0x80...0xFF { for b in stride(from: 0x70, through: 0xC0, by: 5) { sequences.append([UInt8(a), UInt8(b), 0x80, 0x80]) } }
        for a: UInt8 in [0xE0, 0xED, 0xEF, 0xF0, 0xF4] {
            for b in 0x70...0xC0 { sequences.append([a, UInt8(b), 0xBF]); sequences.append([a, UInt8(b), 0x80, 0x41]) }
        }
        for (n, sequence) in sequences.enumerated() {
            let lead = n % 9, phase = n % 4
            let text = [UInt8](repeating: 0x61, count: lead + 8) + sequence + Array("€ and more ascii".utf8)
            let expected = String(validating: text, as: UTF8.self) != nil
            #expect((firstBad(text) == nil) == expected, "\(text)")
            let masked = text.enumerated().map { $0.element ^ key[($0.offset + phase) % 4] }
            var validator = UTF8StreamValidator()
            let bad = masked.withUnsafeBytes { validator.validate($0, mask: 0x9A01_FF5C, maskPhase: phase) }
            #expect((bad == nil && validator.finish()) == expected, "\(text), phase \(phase)")
            if !expected { #expect(bad.map(Int64.init) == firstBad(text)) }
        }
    }

    @Test func reportsTheFirstImpossibleByte() {
        #expect(firstBad(Array("hello".utf8) + [0xC0, 0x80]) == 5)        // overlong lead is impossible at once
        #expect(firstBad([0x61, 0xED, 0xA0, 0x80]) == 2)                  // surrogate: second byte
        #expect(firstBad([0xF4, 0x90, 0x80, 0x80]) == 1)                  // above U+10FFFF
        #expect(firstBad([0x61, 0x62, 0xE2, 0x82]) == 2)                  // cut off at the end
        #expect(firstBad(Array("a long ascii run that crosses words".utf8) + [0xFF]) == 35)
    }

    @Test func splitsNeverChangeTheAnswer() {
        let text = Array("naïve café — 日本語 𝄞 done".utf8)
        for split in 0...text.count { #expect(firstBad(text, split: split) == nil) }
        var broken = text
        broken[12] = 0xFF
        for split in 0...broken.count { #expect(firstBad(broken, split: split) == 12) }
    }

    @Test func unmasksWhileValidating() {
        let key: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        let mask = UInt32(0x1234_5678)
        let text = Array("masked text that is longer than sixteen bytes ✓".utf8)
        for phase in 0..<4 {
            let masked = text.enumerated().map { $0.element ^ key[($0.offset + phase) % 4] }
            var validator = UTF8StreamValidator()
            let bad = masked.withUnsafeBytes { validator.validate($0, mask: mask, maskPhase: phase) }
            #expect(bad == nil && validator.finish(), "phase \(phase)")
        }
        var withBad = text
        withBad[20] = 0xFF
        let masked = withBad.enumerated().map { $0.element ^ key[$0.offset % 4] }
        var validator = UTF8StreamValidator()
        #expect(masked.withUnsafeBytes { validator.validate($0, mask: mask) } == 20)
    }
}
