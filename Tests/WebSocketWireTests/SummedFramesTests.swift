import Testing
import WebSocketWire
import WireTestSupport

/// With `reportsEachFrame` off, ordinary frames take a shorter path and are summed: what the
/// decoder reports must be exactly the per-frame events folded into sums, however split.
@Suite struct SummedFramesTests {
    @Test(arguments: [Side.client, .server], [0, 1, 7, 64, 1_000])
    func summedEventsAreThePerFrameEventsFolded(side: Side, chunk: Int) {
        var random = HTTPTestSupport.RNG(state: UInt64(chunk) &+ (side == .client ? 1 : 2))
        for round in 0..<40 {
            let stream = Self.mixedStream(side: side, using: &random)
            let sizes = chunk == 0 ? nil : [chunk, 3, chunk * 2 + 1]
            let eachFrame = Self.decode(stream, side: side, reportsEachFrame: true, chunkSizes: sizes)
            let summed = Self.decode(stream, side: side, reportsEachFrame: false, chunkSizes: sizes)
            #expect(!eachFrame.frames.isEmpty)
            #expect(summed.frames.isEmpty && summed.messages.isEmpty)
            #expect(Self.folded(summed) == Self.folded(eachFrame), "round \(round)")
        }
    }

    @Test func aLongRunOfOrdinaryFramesIsOneSum() {
        var stream: [UInt8] = []
        for i in 0..<500 {
            stream += i % 2 == 0 ? FrameBytes.client(0x2, [UInt8](repeating: 9, count: i % 200))
                : FrameBytes.client(0x1, Array("ü text \(i)".utf8))
        }
        let events = Self.decode(stream, side: .client, reportsEachFrame: false, chunkSizes: nil)
        guard events.count == 1, case .tally(let tally) = events[0] else {
            Issue.record("expected one tally, got \(events)")
            return
        }
        #expect(tally.frames == 500 && tally.binaryMessages == 250 && tally.textMessages == 250)
        #expect(tally.largestFrame == 198)
        #expect(tally.lastMessage?.index == 499 && tally.lastMessage?.firstFrameIndex == 499)
    }

    // MARK: Helpers

    /// Ordinary frames mixed with every kind the short path must leave to the general one.
    static func mixedStream(side: Side, using random: inout HTTPTestSupport.RNG) -> [UInt8] {
        var out: [UInt8] = []
        let key: [UInt8]? = side == .client ? [random.byte(), random.byte(), random.byte(), random.byte()] : nil
        func frame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0, lengthBits: Int? = nil,
                   wrongMask: Bool = false) {
            let masked = (key != nil) != wrongMask
            let frameKey = masked ? (key ?? [1, 2, 3, 4]) : nil
            out += FrameBytes(fin: fin, reservedBits: rsv, opcode: opcode, maskKey: frameKey, payload: payload,
                              lengthBits: lengthBits).bytes
        }
        for _ in 0..<random.below(30) + 5 {
            let size = random.below(4) == 0 ? 126 + random.below(400) : random.below(126)
            switch random.below(20) {
            case 0: frame(0x1, Array("naïve ".utf8) + [0xC3])                       // ends inside a character
            case 1: frame(0x1, [0x41, 0xFF, 0x42])                                    // not UTF-8
            case 2: frame(0x2, random.bytes(size), fin: false); frame(0x0, random.bytes(3))
            case 3: frame(0x0, random.bytes(4))                                       // no message open
            case 4: frame(0x2, random.bytes(size), rsv: 0b100)
            case 5: frame(0x2, random.bytes(20), lengthBits: 16)                      // non-minimal length
            case 6: frame(0x2, random.bytes(size), wrongMask: true)
            case 7: frame(0x9, random.bytes(4))
            case 8 where random.below(4) == 0: frame(0x8, FrameBytes.closePayload(1000))
            case 9: frame(0x3, random.bytes(2))                                      // reserved opcode
            case 10: frame(0x1, [], fin: false); frame(0x0, Array("€ and 日本".utf8))
            case 11: frame(0x2, random.bytes(size), lengthBits: 64)
            case 12, 13: frame(0x1, Array(String(repeating: "wire é ", count: size / 8 + 1).utf8))
            default: frame(0x2, random.bytes(size))
            }
        }
        return out
    }

    static func decode(_ bytes: [UInt8], side: Side, reportsEachFrame: Bool, chunkSizes: [Int]?) -> [WireEvent] {
        var decoder = FrameDecoder(configuration: FrameDecoderConfiguration(side: side, reportsEachFrame: reportsEachFrame))
        var events: [WireEvent] = []
        bytes.withUnsafeBytes { all in
            var start = 0, turn = 0
            while start < all.count {
                let size = chunkSizes.map { $0[turn % $0.count] } ?? all.count
                let end = min(all.count, start + max(1, size))
                decoder.decode(UnsafeRawBufferPointer(rebasing: all[start..<end]), into: &events)
                start = end
                turn += 1
            }
        }
        decoder.endOfStream(into: &events)
        return events
    }

    /// Runs of frames, messages and tallies become one tally each; other events stay as they are.
    static func folded(_ events: [WireEvent]) -> [WireEvent] {
        var out: [WireEvent] = []
        var run: FrameTally?
        func sum(_ side: Side, _ change: (inout FrameTally) -> Void) {
            var tally = run ?? FrameTally(side: side)
            change(&tally)
            run = tally
        }
        for event in events {
            switch event {
            case .frame(let frame):
                sum(frame.side) {
                    $0.frames += 1
                    $0.largestFrame = max($0.largestFrame, frame.payloadLength)
                }
            case .message(let message):
                sum(message.side) { $0.addMessage(message) }
            case .tally(let tally):
                sum(tally.side) { $0.merge(tally) }
            default:
                if let tally = run { out.append(.tally(tally)) }
                run = nil
                out.append(event)
            }
        }
        if let tally = run { out.append(.tally(tally)) }
        return out
    }
}

extension FrameTally {
    mutating func addMessage(_ message: MessageInfo) {
        if message.opcode == .text { textMessages += 1 } else { binaryMessages += 1 }
        let size = message.size ?? message.wireSize
        messageBytes += size
        largestMessage = max(largestMessage, size)
        if message.compressed && message.size != nil { inflatedMessages += 1 }
        lastMessage = message
    }

    mutating func merge(_ other: FrameTally) {
        frames += other.frames
        largestFrame = max(largestFrame, other.largestFrame)
        textMessages += other.textMessages
        binaryMessages += other.binaryMessages
        messageBytes += other.messageBytes
        largestMessage = max(largestMessage, other.largestMessage)
        inflatedMessages += other.inflatedMessages
        lastMessage = other.lastMessage ?? lastMessage
    }
}

/// Seeded, so every run tests the same streams.
extension HTTPTestSupport.RNG {
    mutating func below(_ bound: Int) -> Int { Int.random(in: 0..<bound, using: &self) }
    mutating func byte() -> UInt8 { UInt8.random(in: 0...255, using: &self) }
    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in byte() } }
}
