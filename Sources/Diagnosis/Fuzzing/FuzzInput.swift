import WebSocketWire

/// Reads one fuzzer input as a connection's traffic and drives a `ConnectionAnalyzer` with it.
///
/// Shared by the `wsdoctor-fuzz` target and the regression tests, so a saved crasher
/// replays exactly as the fuzzer ran it. Layout: one options byte, then records until
/// the input ends. A record that runs past the end is cut short, never rejected, so
/// every byte string is a valid input.
///
/// Options byte:
/// - bit 0: `assumeWebSocket` (frames are searched for from the first byte)
/// - bit 1: record the timeline
/// - bit 2: tiny limits, so every bound is hit on small inputs
/// - bits 3–5: split each data record into pieces of 1, 2, 3, 5, 8, 13 or 64 bytes (0: whole)
/// - bit 6: the clock may step back and jump far, as a capture's clock can (see below)
///
/// Records, by the top two bits of their first byte `h`:
/// - `00`: client bytes, `01`: server bytes. Length is `h & 0x3F` when below 62;
///   62 means one length byte follows, 63 two (big-endian). The bytes follow.
/// - `10`: transport event `h & 7`: FIN client, FIN server, RST client, RST server,
///   source ended, gap client, gap server (4-byte big-endian count minus one follows), nothing.
/// - `11`: the clock moves on by `h & 0x3F` seconds. With option bit 6, bit 5 of `h` sets the
///   direction (1: back) and `n = h & 0x1F` the step: `n` seconds below 16, else `2^n` seconds,
///   wrapping around the 64-bit nanoseconds as a capture's timestamps can.
///
/// The source always ends after the last record, as at the end of a capture.
package struct FuzzInput {
    /// Inflated bytes allowed per message: small, so a zip bomb ends within a few milliseconds.
    package static let maxInflatedMessageSize: Int64 = 256 * 1024

    private static let pieceSizes = [0, 1, 2, 3, 5, 8, 13, 64]

    private var input: UnsafeRawBufferPointer
    private var position = 0

    private init(_ input: UnsafeRawBufferPointer) {
        self.input = input
    }

    /// Runs `input` through a fresh analyzer and returns it, finished.
    ///
    /// - Parameter recordingTimeline: record the timeline whatever the options byte says.
    package static func run(_ input: UnsafeRawBufferPointer, recordingTimeline: Bool = false) -> ConnectionAnalyzer {
        var reader = FuzzInput(input)
        return reader.run(recordingTimeline: recordingTimeline)
    }

    /// Runs `input` through a fresh analyzer and returns it, finished.
    package static func run(_ input: [UInt8], recordingTimeline: Bool = false) -> ConnectionAnalyzer {
        input.withUnsafeBytes { run($0, recordingTimeline: recordingTimeline) }
    }

    private mutating func run(recordingTimeline: Bool) -> ConnectionAnalyzer {
        let options = (next() ?? 0) | (recordingTimeline ? 0b10 : 0)
        var analyzer = ConnectionAnalyzer(facts: Self.facts, configuration: Self.configuration(options))
        let pieceSize = Self.pieceSizes[Int(options >> 3) & 7]
        var time = Self.facts.opened
        while let header = next() {
            time.nanoseconds &+= 1_000_000
            switch header >> 6 {
            case 0, 1:
                let side: Side = header >> 6 == 0 ? .client : .server
                let bytes = take(length(header & 0x3F))
                feed(&analyzer, bytes, from: side, pieceSize: pieceSize, at: time)
            case 2:
                event(&analyzer, header & 7, at: time)
            default:
                time.nanoseconds &+= Self.clockStep(header, steppingBack: options & 0x40 != 0)
            }
        }
        analyzer.sourceEnded(at: time)
        Self.readDerivedFacts(analyzer.facts, at: time)
        return analyzer
    }

    /// Nanoseconds a clock record moves the clock by.
    private static func clockStep(_ header: UInt8, steppingBack: Bool) -> Int64 {
        guard steppingBack else { return Int64(header & 0x3F) * 1_000_000_000 }
        let n = Int64(header & 0x1F)
        let seconds: Int64 = n < 16 ? n : 1 << n
        return (header & 0x20 != 0 ? -seconds : seconds) &* 1_000_000_000
    }

    static let facts = ConnectionFacts(id: 0, client: Endpoint(address: "127.0.0.1", port: 50000),
                                               server: Endpoint(address: "127.0.0.1", port: 8080),
                                               opened: Timestamp(seconds: 1_700_000_000, nanoseconds: 0),
                                               sawTCPOpen: true, sidesGuessed: false)

    private static func configuration(_ options: UInt8) -> AnalyzerConfiguration {
        let tiny = options & 0b100 != 0
        let decoder = ConnectionDecoderConfiguration(maxHeadSize: tiny ? 512 : 16 * 1024,
                                                     maxInflatedMessageSize: tiny ? 1024 : maxInflatedMessageSize,
                                                     maxHeldBytes: tiny ? 64 : 64 * 1024,
                                                     maxResyncBytes: tiny ? 256 : 256 * 1024,
                                                     assumeWebSocket: options & 0b1 != 0)
        if tiny {
            return AnalyzerConfiguration(decoder: decoder, maxViolations: 4, recordTimeline: options & 0b10 != 0,
                                         maxTimelineEntries: 8, maxOutstandingPings: 2)
        }
        return AnalyzerConfiguration(decoder: decoder, recordTimeline: options & 0b10 != 0)
    }

    private func feed(_ analyzer: inout ConnectionAnalyzer, _ bytes: UnsafeRawBufferPointer, from side: Side,
                      pieceSize: Int, at time: Timestamp) {
        guard pieceSize > 0 else {
            analyzer.received(bytes, from: side, at: time)
            return
        }
        var start = 0
        while start < bytes.count {
            let end = min(start + pieceSize, bytes.count)
            analyzer.received(UnsafeRawBufferPointer(rebasing: bytes[start..<end]), from: side, at: time)
            start = end
        }
    }

    private mutating func event(_ analyzer: inout ConnectionAnalyzer, _ code: UInt8, at time: Timestamp) {
        switch code {
        case 0: analyzer.finished(from: .client, at: time)
        case 1: analyzer.finished(from: .server, at: time)
        case 2: analyzer.reset(from: .client, at: time)
        case 3: analyzer.reset(from: .server, at: time)
        case 4: analyzer.sourceEnded(at: time)
        case 5, 6:
            var missing: Int64 = 0
            for _ in 0..<4 { missing = missing << 8 | Int64(next() ?? 0) }
            analyzer.gap(from: code == 5 ? .client : .server, missing: missing + 1, at: time)
        default: break
        }
    }

    /// Touches the computed facts that reporters and rules read, so their code is fuzzed too.
    private static func readDerivedFacts(_ facts: ConnectionFacts, at time: Timestamp) {
        // Every fact and every default rule, over whatever state the input reached.
        _ = RuleSet.defaults().diagnose(FactContext(facts: facts))
    }

    // MARK: Reading

    private mutating func next() -> UInt8? {
        guard position < input.count else { return nil }
        defer { position += 1 }
        return input[position]
    }

    private mutating func length(_ short: UInt8) -> Int {
        switch short {
        case 62: return Int(next() ?? 0)
        case 63: return Int(next() ?? 0) << 8 | Int(next() ?? 0)
        default: return Int(short)
        }
    }

    /// The next `count` bytes, or fewer at the end of the input.
    private mutating func take(_ count: Int) -> UnsafeRawBufferPointer {
        let end = min(position + count, input.count)
        defer { position = end }
        return UnsafeRawBufferPointer(rebasing: input[position..<end])
    }
}
