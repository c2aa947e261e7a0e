import Testing
import WebSocketWire
import WireTestSupport

@Suite struct FrameDecoderTests {
    // MARK: RFC 6455 §5.7 examples

    @Test func singleFrameUnmaskedText() {
        let events = decodeFrames([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f], side: .server)
        #expect(events.violations.isEmpty)
        #expect(events.messages.map(\.size) == [5])
        #expect(events.messages.first?.opcode == .text)
    }

    @Test func singleFrameMaskedText() {
        let bytes: [UInt8] = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        let events = decodeFrames(bytes, side: .client)
        #expect(events.violations.isEmpty)
        #expect(events.frames.first?.masked == true)
        #expect(events.messages.first?.invalidUTF8Offset == nil)
    }

    @Test func fragmentedUnmaskedText() {
        let events = decodeFrames([0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f], side: .server)
        #expect(events.violations.isEmpty)
        #expect(events.frames.count == 2)
        #expect(events.messages.count == 1)
        #expect(events.messages.first?.frameCount == 2)
        #expect(events.messages.first?.wireSize == 5)
    }

    @Test func pingAndMaskedPong() {
        let ping: [UInt8] = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]
        let serverEvents = decodeFrames(ping, side: .server)
        #expect(serverEvents.contains(.ping(ControlFrameInfo(side: .server, frameIndex: 0, offset: 0, payload: Array("Hello".utf8)))))
        let pong: [UInt8] = [0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        let clientEvents = decodeFrames(pong, side: .client)
        #expect(clientEvents.contains(.pong(ControlFrameInfo(side: .client, frameIndex: 0, offset: 0, payload: Array("Hello".utf8)))))
    }

    @Test func extendedLengths() {
        let medium = [0x82, 0x7E, 0x01, 0x00] + [UInt8](repeating: 7, count: 256)
        let large = [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0] + [UInt8](repeating: 7, count: 65536)
        let events = decodeFrames(medium + large, side: .server)
        #expect(events.violations.isEmpty)
        #expect(events.frames.map(\.payloadLength) == [256, 65536])
        #expect(events.frames.map(\.offset) == [0, 260])
    }

    // MARK: RFC 7692 §7.2.3 examples

    @Test func deflateSingleMessage() {
        let events = decodeFrames([0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], side: .server,
                                  compression: .deflate(windowBits: 15, noContextTakeover: false))
        #expect(events.violations.isEmpty)
        #expect(events.messages.first?.size == 5)
        #expect(events.messages.first?.compressed == true)
    }

    @Test func deflateFragmented() {
        let bytes: [UInt8] = [0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00]
        let events = decodeFrames(bytes, side: .server, compression: .deflate(windowBits: 15, noContextTakeover: false))
        #expect(events.violations.isEmpty)
        #expect(events.messages.first?.size == 5)
    }

    @Test func deflateContextTakeoverAcrossMessages() {
        let bytes: [UInt8] = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00,
                              0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00]
        let events = decodeFrames(bytes, side: .server, compression: .deflate(windowBits: 15, noContextTakeover: false))
        #expect(events.violations.isEmpty)
        #expect(events.messages.map(\.size) == [5, 5])
        // Without the previous message's window the second one refers to nothing.
        let reset = decodeFrames(bytes, side: .server, compression: .deflate(windowBits: 15, noContextTakeover: true))
        #expect(reset.violationKinds == [.inflateFailed])
    }

    @Test func deflateStoredAndFinalBlocks() {
        let stored: [UInt8] = [0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00]
        let final: [UInt8] = [0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00]
        let events = decodeFrames(stored + final + stored, side: .server,
                                  compression: .deflate(windowBits: 15, noContextTakeover: false))
        #expect(events.violations.isEmpty)
        #expect(events.messages.map(\.size) == [5, 5, 5])
    }

    @Test func inflatedSizeIsBounded() {
        // Stored block of 5 bytes inflates past a 4-byte bound.
        let stored: [UInt8] = [0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00]
        let events = decodeFrames(stored, side: .server, compression: .deflate(windowBits: 15, noContextTakeover: false), maxInflated: 4)
        #expect(events.contains { if case .notice(let n) = $0 { return n.kind == .inflatedSizeLimit } else { return false } })
        // The size reached is reported, marked as a lower bound, not the compressed size.
        #expect(events.messages.first?.size == 5)
        #expect(events.messages.first?.sizeIsLowerBound == true)
    }

    @Test func rsv1WithoutNegotiationIsInflatedOnlyToSeeWhetherItIsDeflate() {
        let compressed: [UInt8] = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
        let events = decodeFrames(compressed, side: .server)
        #expect(events.violationKinds == [.rsv1WithoutExtension])
        #expect(events.messages.first?.size == 5)
        // Not deflate data: no inflate-failed, no UTF-8 verdict; it is only the RSV1 violation.
        let plain = decodeFrames(FrameBytes.server(0x1, [0xFF, 0xFE, 0x01], rsv: 0b100), side: .server)
        #expect(plain.violationKinds == [.rsv1WithoutExtension])
        #expect(plain.messages.first?.size == nil)
    }

    @Test func corruptDeflateIsAViolation() {
        let events = decodeFrames(FrameBytes.server(0x1, [0xFF, 0xFF, 0xFF, 0xFF], rsv: 0b100), side: .server,
                                  compression: .deflate(windowBits: 15, noContextTakeover: false))
        #expect(events.violationKinds == [.inflateFailed])
        #expect(events.messages.count == 1)
    }

    // MARK: Every violation

    @Test func maskingRules() {
        #expect(decodeFrames(FrameBytes.server(0x1, Array("hi".utf8)), side: .client).violationKinds == [.clientFrameUnmasked])
        #expect(decodeFrames(FrameBytes.client(0x1, Array("hi".utf8)), side: .server).violationKinds == [.serverFrameMasked])
    }

    @Test func reservedBitsAndOpcodes() {
        #expect(decodeFrames(FrameBytes.server(0x2, [1], rsv: 0b010), side: .server).violationKinds == [.reservedBitsSet])
        #expect(decodeFrames(FrameBytes.server(0x2, [1], rsv: 0b100), side: .server).violationKinds == [.rsv1WithoutExtension])
        #expect(decodeFrames(FrameBytes.server(0x3, [1, 2]), side: .server).violationKinds == [.reservedOpcode])
        #expect(decodeFrames(FrameBytes.server(0xB, []), side: .server).violationKinds == [.reservedOpcode])
        let deflate = FrameDecoderConfiguration.Compression.deflate(windowBits: 15, noContextTakeover: false)
        #expect(decodeFrames(FrameBytes.server(0x9, [], rsv: 0b100), side: .server, compression: deflate).violationKinds == [.rsv1OnControlFrame])
        let continuation = FrameBytes.server(0x1, [0x00], fin: false) + FrameBytes.server(0x0, [0x00, 0x00, 0xff, 0xff], rsv: 0b100)
        #expect(decodeFrames(continuation, side: .server, compression: deflate).violationKinds.contains(.rsv1OnContinuation))
    }

    @Test func controlFrameRules() {
        let long = FrameBytes.server(0x9, [UInt8](repeating: 0, count: 126))
        #expect(decodeFrames(long, side: .server).violationKinds == [.controlFrameTooLong])
        let fragmented = FrameBytes.server(0x9, [1], fin: false)
        #expect(decodeFrames(fragmented, side: .server).violationKinds == [.controlFrameFragmented])
    }

    @Test func fragmentationRules() {
        #expect(decodeFrames(FrameBytes.server(0x0, [1]), side: .server).violationKinds == [.continuationWithoutMessage])
        let interrupted = FrameBytes.server(0x1, Array("a".utf8), fin: false) + FrameBytes.server(0x2, [1])
        let events = decodeFrames(interrupted, side: .server)
        #expect(events.violationKinds == [.dataFrameDuringFragmentedMessage])
        #expect(events.messages.count == 1)
        // A control frame between fragments is allowed.
        let withPing = FrameBytes.server(0x1, Array("a".utf8), fin: false) + FrameBytes.server(0x9, []) + FrameBytes.server(0x0, Array("b".utf8))
        #expect(decodeFrames(withPing, side: .server).violations.isEmpty)
    }

    @Test func lengthEncodingRules() {
        let sixteen = FrameBytes(opcode: 0x2, payload: [1, 2, 3], lengthBits: 16).bytes
        #expect(decodeFrames(sixteen, side: .server).violationKinds == [.nonMinimalLength])
        let sixtyFour = FrameBytes(opcode: 0x2, payload: [UInt8](repeating: 0, count: 200), lengthBits: 64).bytes
        #expect(decodeFrames(sixtyFour, side: .server).violationKinds == [.nonMinimalLength])
        let impossible = FrameBytes(opcode: 0x2, payload: [], lengthBits: 64, rawLength: 1 << 63).bytes + [1, 2, 3]
        let events = decodeFrames(impossible, side: .server)
        #expect(events.violationKinds == [.lengthTopBitSet])
        #expect(events.contains { if case .stopped(.server, _, _) = $0 { return true } else { return false } })
    }

    @Test func closeFrameRules() {
        #expect(decodeFrames(FrameBytes.server(0x8, [0x03]), side: .server).violationKinds == [.closePayloadOneByte])
        for code: UInt16 in [999, 1004, 1005, 1006, 1015, 1016, 2999] {
            let events = decodeFrames(FrameBytes.server(0x8, FrameBytes.closePayload(code)), side: .server)
            #expect(events.violationKinds == [.closeCodeNotAllowed], "\(code)")
            #expect(events.closes.first?.code == code)
        }
        let badReason = FrameBytes.server(0x8, FrameBytes.closePayload(1000) + [0xC0, 0x80])
        #expect(decodeFrames(badReason, side: .server).violationKinds == [.closeReasonNotUTF8])
        let good = decodeFrames(FrameBytes.client(0x8, FrameBytes.closePayload(1001, "bye")), side: .client)
        #expect(good.violations.isEmpty)
        #expect(good.closes == [CloseFrameInfo(side: .client, frameIndex: 0, offset: 0, code: 1001, reason: "bye")])
        let empty = decodeFrames(FrameBytes.server(0x8, []), side: .server)
        #expect(empty.closes.first?.code == nil)
    }

    @Test func framesAfterCloseAreViolations() {
        let bytes = FrameBytes.server(0x8, FrameBytes.closePayload(1000)) + FrameBytes.server(0x1, Array("late".utf8))
        let events = decodeFrames(bytes, side: .server)
        #expect(events.violationKinds == [.frameAfterClose])
        #expect(events.violations.first?.frameIndex == 1)
    }

    @Test func aPongOrPingAfterCloseIsNoViolation() {
        // Python websockets answers a ping that crossed its close (RFC 6455 §5.5.2).
        let bytes = FrameBytes.client(0x8, FrameBytes.closePayload(1000)) + FrameBytes.client(0xA, Array("keepalive".utf8))
            + FrameBytes.client(0x9, [])
        let events = decodeFrames(bytes, side: .client)
        #expect(events.violations.isEmpty)
        #expect(events.frames.count == 3)
        let closeAgain = decodeFrames(bytes + FrameBytes.client(0x8, FrameBytes.closePayload(1000)), side: .client)
        #expect(closeAgain.violationKinds == [.frameAfterClose])
        #expect(closeAgain.violations.first?.frameIndex == 3)
    }

    @Test func invalidUTF8IsFoundAtTheFirstBadByteOfTheFirstFragment() {
        // The message never finishes: the bad byte in fragment one is enough.
        let bytes = FrameBytes.client(0x1, Array("ok ".utf8) + [0xFF], fin: false)
        let events = decodeFrames(bytes, side: .client)
        #expect(events.violationKinds == [.textNotUTF8])
        // Header is 6 bytes (2 + mask), bad byte is the 4th payload byte.
        #expect(events.violations.first?.streamOffset == 9)
        #expect(events.violations.first?.detail.contains("byte 3") == true)
    }

    @Test func utf8SplitAcrossFragmentsIsValid() {
        let euro: [UInt8] = [0xE2, 0x82, 0xAC]
        let bytes = FrameBytes.client(0x1, [euro[0]], fin: false) + FrameBytes.client(0x0, Array(euro[1...]))
        let events = decodeFrames(bytes, side: .client)
        #expect(events.violations.isEmpty)
        #expect(events.messages.first?.invalidUTF8Offset == nil)
    }

    @Test func textEndingMidCharacterIsInvalid() {
        let events = decodeFrames(FrameBytes.server(0x1, Array("abc".utf8) + [0xE2, 0x82]), side: .server)
        #expect(events.violationKinds == [.textNotUTF8])
        #expect(events.messages.first?.invalidUTF8Offset == 3)
    }

    // MARK: Fail-fast: what the first bytes decide is checked as they arrive

    private func feed(_ bytes: [UInt8], side: Side, to decoder: inout FrameDecoder) -> [WireEvent] {
        var events: [WireEvent] = []
        bytes.withUnsafeBytes { decoder.decode($0, into: &events) }
        return events
    }

    @Test func firstByteRulesAreCheckedOnTheFirstByte() {
        var decoder = FrameDecoder(configuration: FrameDecoderConfiguration(side: .client))
        let frame = FrameBytes(fin: false, reservedBits: 0b110, opcode: 0xB, maskKey: [1, 2, 3, 4], payload: [9]).bytes
        let events = feed([frame[0]], side: .client, to: &decoder)
        #expect(events.violationKinds == [.reservedOpcode, .reservedBitsSet, .rsv1WithoutExtension, .controlFrameFragmented])
        #expect(events.violations.allSatisfy { $0.frameIndex == 0 && $0.streamOffset == 0 })
        #expect(events.violations.first { $0.kind == .reservedBitsSet }?.detail.contains("RSV2 set") == true)
        // The rest of the header adds nothing already reported, and the frame completes.
        let rest = feed(Array(frame[1...]), side: .client, to: &decoder)
        #expect(rest.violations.isEmpty)
        #expect(rest.frames.count == 1)
    }

    @Test func secondByteRulesAreCheckedOnTheSecondByte() {
        var decoder = FrameDecoder(configuration: FrameDecoderConfiguration(side: .client))
        let ping = FrameBytes(opcode: 0x9, payload: [UInt8](repeating: 0, count: 200)).bytes
        #expect(feed([ping[0]], side: .client, to: &decoder).violations.isEmpty)
        let second = feed([ping[1]], side: .client, to: &decoder)
        #expect(second.violationKinds == [.clientFrameUnmasked, .controlFrameTooLong])
        #expect(second.violations.last?.detail.contains("16-bit length form") == true)
    }

    @Test func afterCloseTheNextFrameIsReportedOnItsFirstByte() {
        var decoder = FrameDecoder(configuration: FrameDecoderConfiguration(side: .server))
        _ = feed(FrameBytes.server(0x8, FrameBytes.closePayload(1000)), side: .server, to: &decoder)
        let events = feed([0x81], side: .server, to: &decoder)
        #expect(events.violationKinds == [.frameAfterClose])
        #expect(events.violations.first?.frameIndex == 1 && events.violations.first?.streamOffset == 4)
    }

    @Test func aHeaderCutShortByTheEndOfTheStreamIsCheckedForWhatItHolds() {
        // A reserved opcode from a client, cut after two of its six header bytes.
        var decoder = FrameDecoder(configuration: FrameDecoderConfiguration(side: .client, compression: .none), startOffset: 100)
        var events = feed([0x83, 0x88], side: .client, to: &decoder)
        decoder.endOfStream(into: &events)
        decoder.endOfStream(into: &events)  // said once, however often the end is reported
        #expect(events.violationKinds == [.reservedOpcode])
        #expect(events.violations.first?.streamOffset == 100)
        let notices = events.compactMap { if case .notice(let n) = $0 { return n } else { return nil } }
        #expect(notices.map(\.kind) == [.truncatedFrame])
        #expect(notices.first?.detail == "the stream ended 2 of 6 bytes into the header of frame 0; its masking key was never seen")

        var oneByte = FrameDecoder(configuration: FrameDecoderConfiguration(side: .server))
        var cut = feed([0x8F], side: .server, to: &oneByte)
        oneByte.endOfStream(into: &cut)
        #expect(cut.violationKinds == [.reservedOpcode])
        #expect(cut.contains(.notice(DecoderNotice(side: .server, kind: .truncatedFrame, offset: 0,
                                                   detail: "the stream ended 1 byte into the header of frame 0; its MASK bit and payload length were never seen"))))

        var midPayload = FrameDecoder(configuration: FrameDecoderConfiguration(side: .server))
        var partial = feed(Array(FrameBytes.server(0x2, [1, 2, 3, 4]).prefix(4)), side: .server, to: &midPayload)
        midPayload.endOfStream(into: &partial)
        #expect(partial.frames.isEmpty)
        #expect(partial.contains { if case .notice(let n) = $0 { return n.detail.contains("2 bytes before the end of frame 0") } else { return false } })
    }

    @Test func betweenFramesTheEndOfTheStreamSaysNothing() {
        var decoder = FrameDecoder(configuration: FrameDecoderConfiguration(side: .server))
        var events = feed(FrameBytes.server(0x1, Array("hi".utf8)), side: .server, to: &decoder)
        decoder.endOfStream(into: &events)
        #expect(!events.contains { if case .notice = $0 { return true } else { return false } })
    }

    // MARK: Chunking never changes the result

    @Test(arguments: [UInt64(1), 2, 3, 4, 5, 6, 7, 8])
    func randomFrameSequencesDecodeTheSameHoweverSplit(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        var stream: [UInt8] = []
        for _ in 0..<40 {
            let payloadSize = [0, 1, 5, 125, 126, 300, 70_000].randomElement(using: &rng)!
            var payload = (0..<payloadSize).map { _ in UInt8.random(in: 0x20...0x7E, using: &rng) }
            let opcode: UInt8 = [0x1, 0x2, 0x9, 0xA, 0x3, 0x0].randomElement(using: &rng)!
            if Bool.random(using: &rng), !payload.isEmpty { payload[payload.count / 2] = 0xFF }
            if opcode >= 0x8 { payload = Array(payload.prefix(Int.random(in: 0...130, using: &rng))) }
            let key = (0..<4).map { _ in UInt8.random(in: 0...255, using: &rng) }
            stream += FrameBytes(fin: Bool.random(using: &rng), opcode: opcode, maskKey: Bool.random(using: &rng) ? key : nil, payload: payload).bytes
        }
        let whole = decodeFrames(stream, side: .client)
        #expect(whole.frames.count == 40)
        #expect(decodeFrames(stream, side: .client, chunkSizes: [1]) == whole)
        let sizes = (0..<50).map { _ in Int.random(in: 1...3000, using: &rng) }
        #expect(decodeFrames(stream, side: .client, chunkSizes: sizes) == whole)
    }

    @Test func compressedStreamsDecodeTheSameHoweverSplit() {
        let bytes: [UInt8] = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00,
                              0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00]
        let deflate = FrameDecoderConfiguration.Compression.deflate(windowBits: 15, noContextTakeover: false)
        let whole = decodeFrames(bytes, side: .server, compression: deflate)
        #expect(whole.violations.isEmpty)
        for size in 1...7 {
            #expect(decodeFrames(bytes, side: .server, compression: deflate, chunkSizes: [size]) == whole)
        }
    }
}
