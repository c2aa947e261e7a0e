import Testing
import WebSocketWire
import WireTestSupport

/// Payload digests, for `wsdoctor compare`: the same payload gives the same digest however it
/// was masked, fragmented, chunked or compressed; a byte changed in place changes it.
@Suite struct PayloadDigestTests {
    private let deflate = FrameDecoderConfiguration.Compression.deflate(windowBits: 15, noContextTakeover: false)
    /// "Hello" (RFC 6455 §5.7 and RFC 7692 §7.2.3).
    private let unmasked: [UInt8] = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]
    private let masked: [UInt8] = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
    private let fragmented: [UInt8] = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f]
    private let compressed: [UInt8] = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
    /// The same text in a stored (uncompressed) DEFLATE block (RFC 7692 §7.2.3.3): other bytes.
    private let stored: [UInt8] = [0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00]

    private func message(_ bytes: [UInt8], _ side: Side, compression: FrameDecoderConfiguration.Compression = .none,
                         chunkSizes: [Int]? = nil) throws -> MessageInfo {
        try #require(decodeFrames(bytes, side: side, compression: compression, chunkSizes: chunkSizes, digests: true).messages.first)
    }

    @Test func theSamePayloadHasTheSameDigestHoweverItTravelled() throws {
        let plain = try message(unmasked, .server)
        let digest = try #require(plain.contentDigest)
        #expect(plain.wireDigest == digest)
        #expect(try message(masked, .client).contentDigest == digest)
        #expect(try message(masked, .client).wireDigest == digest)
        #expect(try message(fragmented, .server).contentDigest == digest)
        #expect(try message(masked, .client, chunkSizes: [1]).contentDigest == digest)
        #expect(try message(compressed, .server, compression: deflate).contentDigest == digest)
        #expect(try message(stored, .server, compression: deflate, chunkSizes: [3]).contentDigest == digest)
    }

    @Test func compressedBytesHaveTheirOwnDigest() throws {
        let fixed = try message(compressed, .server, compression: deflate)
        let other = try message(stored, .server, compression: deflate)
        #expect(fixed.wireDigest != nil && fixed.wireDigest != fixed.contentDigest)
        #expect(fixed.wireDigest != other.wireDigest)
        #expect(fixed.contentDigest == other.contentDigest)
    }

    @Test func aByteChangedInPlaceChangesTheDigest() throws {
        var changed = unmasked
        changed[6] = 0x70 // "Hellp"
        let original = try message(unmasked, .server)
        let altered = try message(changed, .server)
        #expect(altered.size == original.size)
        #expect(altered.contentDigest != original.contentDigest)
    }

    @Test func digestsAreOffUnlessAskedFor() throws {
        let info = try #require(decodeFrames(unmasked, side: .server).messages.first)
        #expect(info.wireDigest == nil && info.contentDigest == nil)
    }

    @Test func aMessageNotInflatedHasNoContentDigest() throws {
        let info = try message(compressed, .server, compression: .unknown)
        #expect(info.wireDigest != nil)
        #expect(info.contentDigest == nil)
    }
}
