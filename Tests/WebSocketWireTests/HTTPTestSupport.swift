import WebSocketWire

/// Helpers shared by the HTTP and handshake tests: chunking plans and stream walkers.
enum HTTPTestSupport {
    /// SplitMix64, so random chunkings are the same on every run.
    struct RNG: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// Ways to cut `count` bytes: whole, byte by byte, and ten seeded random chunkings.
    static func chunkings(of count: Int) -> [[Int]] {
        var plans: [[Int]] = [[count], Array(repeating: 1, count: count)]
        for seed in UInt64(1)...10 {
            var rng = RNG(state: seed)
            var plan: [Int] = []
            var left = count
            while left > 0 {
                let size = min(left, Int.random(in: 1...17, using: &rng))
                plan.append(size)
                left -= size
            }
            plans.append(plan)
        }
        return plans
    }

    /// Splits `bytes` as `plan` says.
    static func chunks(_ bytes: [UInt8], _ plan: [Int]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var start = 0
        for size in plan {
            out.append(Array(bytes[start..<start + size]))
            start += size
        }
        return out
    }

    /// What a head parser reports over a stream: each final outcome and the offset just after it.
    struct HeadResult: Equatable {
        var outcomes: [HTTPHeadParser.Outcome] = []
        var endOffsets: [Int] = []
        /// Bytes offered but not consumed after the last final outcome, when parsing stopped.
        var trailing = 0
    }

    /// Parses heads back to back until one fails or the bytes run out.
    static func parseHeads(_ bytes: [UInt8], kind: HTTPHeadParser.Kind, maxHeadSize: Int = 16 * 1024, plan: [Int]) -> HeadResult {
        var parser = HTTPHeadParser(kind: kind, maxHeadSize: maxHeadSize)
        var result = HeadResult()
        var offset = 0
        var stopped = false
        for chunk in chunks(bytes, plan) {
            var start = 0
            while start < chunk.count, !stopped {
                let (consumed, outcome) = chunk[start...].withUnsafeBytes { parser.parse($0) }
                start += consumed
                offset += consumed
                switch outcome {
                case .needMoreData:
                    precondition(start == chunk.count, "needMoreData must consume everything")
                case .request, .response:
                    result.outcomes.append(outcome)
                    result.endOffsets.append(offset)
                    parser.reset()
                case .malformed, .tooLarge:
                    result.outcomes.append(outcome)
                    result.endOffsets.append(offset)
                    stopped = true
                }
            }
            if stopped { result.trailing += chunk.count - start }
        }
        return result
    }

    /// Same result for every chunking, which is returned.
    static func parseHeadsEveryWay(_ bytes: [UInt8], kind: HTTPHeadParser.Kind, maxHeadSize: Int = 16 * 1024) -> (HeadResult, allSame: Bool) {
        let plans = chunkings(of: bytes.count)
        let results = plans.map { parseHeads(bytes, kind: kind, maxHeadSize: maxHeadSize, plan: $0) }
        // The trailing count depends on where the chunk ended; compare only what was parsed.
        let comparable = results.map { HeadResult(outcomes: $0.outcomes, endOffsets: $0.endOffsets) }
        return (results[0], comparable.allSatisfy { $0 == comparable[0] })
    }

    /// What a body skipper reports: its final outcome and the offset where it stopped.
    static func skipBody(_ bytes: [UInt8], framing: HTTPBodySkipper.Framing, plan: [Int]) -> (outcome: HTTPBodySkipper.Outcome, consumed: Int) {
        var skipper = HTTPBodySkipper(framing)
        var offset = 0
        for chunk in chunks(bytes, plan) {
            let (consumed, outcome) = chunk.withUnsafeBytes { skipper.skip($0) }
            offset += consumed
            switch outcome {
            case .needMoreData:
                precondition(consumed == chunk.count, "needMoreData must consume everything")
            case .done, .malformed:
                return (outcome, offset)
            }
        }
        return (.needMoreData, offset)
    }

    /// One request of a pipelined stream: its head, how its body ended and where it ended.
    struct Exchange: Equatable {
        var head: HTTPHeadParser.Outcome
        var body: HTTPBodySkipper.Outcome?
        var end: Int
    }

    /// Walks pipelined requests (head, body, head, …) as a connection decoder would.
    static func walkRequests(_ bytes: [UInt8], plan: [Int]) -> [Exchange] {
        var parser = HTTPHeadParser(kind: .request)
        var skipper: HTTPBodySkipper?
        var exchanges: [Exchange] = []
        var offset = 0
        for chunk in chunks(bytes, plan) {
            var start = 0
            while start < chunk.count {
                if var body = skipper {
                    let (consumed, outcome) = chunk[start...].withUnsafeBytes { body.skip($0) }
                    skipper = body
                    start += consumed
                    offset += consumed
                    switch outcome {
                    case .needMoreData: break
                    case .done, .malformed:
                        exchanges[exchanges.count - 1].body = outcome
                        exchanges[exchanges.count - 1].end = offset
                        skipper = nil
                        parser.reset()
                        if case .malformed = outcome { return exchanges }
                    }
                } else {
                    let (consumed, outcome) = chunk[start...].withUnsafeBytes { parser.parse($0) }
                    start += consumed
                    offset += consumed
                    switch outcome {
                    case .needMoreData: break
                    case .request(let head):
                        exchanges.append(Exchange(head: outcome, body: nil, end: offset))
                        skipper = HTTPBodySkipper(HTTPBodySkipper.framing(request: head))
                    case .response, .malformed, .tooLarge:
                        exchanges.append(Exchange(head: outcome, body: nil, end: offset))
                        return exchanges
                    }
                }
            }
        }
        // A body that needs no bytes ends without any being offered.
        if var body = skipper {
            let outcome = [UInt8]().withUnsafeBytes { body.skip($0).outcome }
            if outcome != .needMoreData { exchanges[exchanges.count - 1].body = outcome }
        }
        return exchanges
    }
}
