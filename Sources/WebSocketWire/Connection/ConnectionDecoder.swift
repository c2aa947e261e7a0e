/// Decodes both directions of one TCP connection: HTTP exchanges, the upgrade, then frames.
///
/// Feed it bytes as they arrive from either side, in any chunking; it reports what it
/// finds as `WireEvent`s. It walks over plain HTTP exchanges (keep-alive, pipelining,
/// bodies) to find a later upgrade, holds early client bytes until the server has
/// answered the upgrade, and resynchronises on a frame boundary after a gap or when
/// joining a connection whose handshake it never saw.
public struct ConnectionDecoder {
    public let configuration: ConnectionDecoderConfiguration
    private var client: Direction
    private var server: Direction
    /// Requests still waiting for their response, oldest first (pipelining).
    private var pendingRequests: [PendingRequest] = []
    /// Client bytes that arrived after an upgrade request and before its answer.
    private var heldClientBytes: [UInt8] = []
    private var heldBytesDropped = false
    /// The negotiated permessage-deflate, once upgraded.
    public private(set) var handshake: HandshakeOutcome?

    /// Requests kept for matching to responses; a client pipelining more is not plausible.
    private static let maxPendingRequests = 256

    private struct PendingRequest {
        /// nil for a head too large to read: its answer decides whether it was an upgrade.
        var head: HTTPRequestHead?
        var offset: Int64
        var isUpgrade: Bool
    }

    private enum Mode {
        /// `skippingHead`: past the end of a request head too large to parse, looking for its blank line.
        case undecided, http, body, skippingHead, awaitingUpgradeAnswer, frames, resync, stopped
    }

    private struct Direction {
        let side: Side
        var mode: Mode
        var headParser: HTTPHeadParser
        var headStart: Int64 = 0
        var body = HTTPBodySkipper(.none)
        /// Where to go once the body has been walked over.
        var afterBody: Mode = .http
        var frames: FrameDecoder?
        var compression: FrameDecoderConfiguration.Compression = .none
        var resyncBuffer: [UInt8] = []
        var resyncStart: Int64 = 0
        /// Leading offsets of `resyncBuffer` already ruled out as frame starts.
        var resyncRuledOut = 0
        /// The very first bytes of a direction joined without a handshake may still be HTTP.
        var mayStartWithHTTP = false
        /// Bytes of this direction consumed so far (held bytes count once processed).
        var offset: Int64 = 0
        /// While skipping an oversized head: bytes since the last LF, a CR not counted.
        var skippedLineLength = 0

        var frameOffset: Int64 { frames?.consumedOffset ?? offset }
    }

    public init(configuration: ConnectionDecoderConfiguration = ConnectionDecoderConfiguration()) {
        self.configuration = configuration
        let initial: Mode = configuration.assumeWebSocket ? .undecided : .http
        client = Direction(side: .client, mode: initial, headParser: HTTPHeadParser(kind: .request, maxHeadSize: configuration.maxHeadSize))
        server = Direction(side: .server, mode: initial, headParser: HTTPHeadParser(kind: .response, maxHeadSize: configuration.maxHeadSize))
    }

    /// Whether frames are being decoded in at least one direction.
    public var isWebSocket: Bool { client.mode == .frames || server.mode == .frames || handshake?.upgraded == true }

    /// Whether `side`'s stream is carrying frames and sits between two of them.
    public func isBetweenFrames(from side: Side) -> Bool {
        let direction = side == .client ? client : server
        return direction.mode == .frames && (direction.frames?.isBetweenFrames ?? false)
    }

    /// Decodes bytes sent by `side`.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, from side: Side, into events: inout [WireEvent]) {
        switch side {
        case .client: feedClient(bytes, into: &events)
        case .server: feedServer(bytes, into: &events)
        }
    }

    /// Records that `missing` bytes from `side` were never seen (lost by the capture).
    public mutating func gap(from side: Side, missing: Int64, into events: inout [WireEvent]) {
        switch side {
        case .client: loseBytes(&client, missing, into: &events)
        case .server: loseBytes(&server, missing, into: &events)
        }
    }

    /// Records that `side` will send nothing more (FIN, RST, or the source ended).
    ///
    /// Bytes still held for a frame-boundary search are decided on now: a chain of frames
    /// that reaches the last byte is accepted. A frame cut short is reported.
    public mutating func endOfStream(from side: Side, into events: inout [WireEvent]) {
        switch side {
        case .client:
            if let replay = finishResync(&client, into: &events) { replay.withUnsafeBytes { feedClient($0, into: &events) } }
            if client.mode == .frames { client.frames!.endOfStream(into: &events) }
            if client.mode == .skippingHead {
                stop(&client, "HTTP request head larger than \(configuration.maxHeadSize) bytes never ended", into: &events)
            }
        case .server:
            if let replay = finishResync(&server, into: &events) { replay.withUnsafeBytes { feedServer($0, into: &events) } }
            if server.mode == .frames { server.frames!.endOfStream(into: &events) }
        }
    }

    // MARK: Client

    private mutating func feedClient(_ input: UnsafeRawBufferPointer, into events: inout [WireEvent]) {
        var bytes = input
        while !bytes.isEmpty {
            switch client.mode {
            case .undecided:
                decideMode(&client)
            case .http:
                let (consumed, outcome) = client.headParser.parse(bytes)
                let lastConsumed = consumed > 0 ? bytes[consumed - 1] : 0
                advance(&client, &bytes, consumed)
                switch outcome {
                case .needMoreData:
                    break
                case .request(let head):
                    events.append(.request(head, offset: client.headStart))
                    acceptRequest(head, into: &events)
                case .response:
                    stop(&client, "a response head came from the client", into: &events)
                case .malformed(let problem):
                    stop(&client, "not HTTP at offset \(client.offset): \(problem)", into: &events)
                case .tooLarge(let limit):
                    // Relaying clients send such heads (big cookies); skip it and let the answer
                    // tell whether it was an upgrade, rather than lose the whole connection.
                    events.append(.notice(DecoderNotice(side: .client, kind: .headTooLarge, offset: client.headStart,
                                                        detail: "HTTP request head larger than \(limit) bytes: its headers were not read (raise --max-head-size); the answer shows whether it was an upgrade")))
                    client.skippedLineLength = lastConsumed == UInt8(ascii: "\n") ? 0 : 1
                    client.mode = .skippingHead
                }
            case .skippingHead:
                skipOversizedHead(&bytes)
            case .body:
                walkBody(&client, &bytes, into: &events)
            case .awaitingUpgradeAnswer:
                let room = configuration.maxHeldBytes - heldClientBytes.count
                if room > 0 {
                    heldClientBytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[0..<min(room, bytes.count)]))
                }
                if bytes.count > room && !heldBytesDropped {
                    heldBytesDropped = true
                    events.append(.notice(DecoderNotice(side: .client, kind: .bufferLimit, offset: client.offset,
                                                        detail: "client sent over \(configuration.maxHeldBytes) bytes before the upgrade was answered; the excess is not decoded")))
                }
                return
            case .frames:
                client.frames!.decode(bytes, into: &events)
                return
            case .resync:
                if let replay = resync(&client, bytes, into: &events) {
                    replay.withUnsafeBytes { feedClient($0, into: &events) }
                }
                return
            case .stopped:
                client.offset += Int64(bytes.count)
                return
            }
        }
    }

    /// Walks to the blank line that ends an oversized request head, keeping nothing of it.
    private mutating func skipOversizedHead(_ bytes: inout UnsafeRawBufferPointer) {
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: "\n") {
                if client.skippedLineLength == 0 {
                    advance(&client, &bytes, index)
                    if pendingRequests.count < Self.maxPendingRequests {
                        pendingRequests.append(PendingRequest(head: nil, offset: client.headStart, isUpgrade: true))
                    }
                    // The body, if any, cannot be framed without the headers; an upgrade has none.
                    client.headParser.reset()
                    client.mode = .awaitingUpgradeAnswer
                    return
                }
                client.skippedLineLength = 0
            } else if byte != UInt8(ascii: "\r") {
                client.skippedLineLength += 1
            }
        }
        advance(&client, &bytes, bytes.count)
    }

    private mutating func acceptRequest(_ head: HTTPRequestHead, into events: inout [WireEvent]) {
        let isUpgrade = WebSocketHandshake.isUpgradeRequest(head)
        if pendingRequests.count < Self.maxPendingRequests {
            pendingRequests.append(PendingRequest(head: head, offset: client.headStart, isUpgrade: isUpgrade))
        }
        if isUpgrade {
            for issue in WebSocketHandshake.validate(request: head) {
                events.append(.violation(Violation(side: issue.side, kind: issue.kind, frameIndex: nil,
                                                   streamOffset: client.headStart, detail: issue.detail)))
            }
        }
        let next: Mode = isUpgrade ? .awaitingUpgradeAnswer : .http
        startBody(&client, HTTPBodySkipper.framing(request: head), then: next)
    }

    // MARK: Server

    private mutating func feedServer(_ input: UnsafeRawBufferPointer, into events: inout [WireEvent]) {
        var bytes = input
        while !bytes.isEmpty {
            switch server.mode {
            case .undecided:
                decideMode(&server)
            case .http:
                let (consumed, outcome) = server.headParser.parse(bytes)
                advance(&server, &bytes, consumed)
                switch outcome {
                case .needMoreData:
                    break
                case .response(let head):
                    events.append(.response(head, offset: server.headStart))
                    acceptResponse(head, into: &events)
                case .request:
                    stop(&server, "a request head came from the server", into: &events)
                case .malformed(let problem):
                    stop(&server, "not HTTP at offset \(server.offset): \(problem)", into: &events)
                case .tooLarge(let limit):
                    stop(&server, "HTTP response head larger than \(limit) bytes (raise --max-head-size)", into: &events)
                }
            case .body:
                walkBody(&server, &bytes, into: &events)
            case .awaitingUpgradeAnswer, .skippingHead:
                // Only the client waits for an answer or skips a request head.
                server.mode = .http
            case .frames:
                server.frames!.decode(bytes, into: &events)
                return
            case .resync:
                if let replay = resync(&server, bytes, into: &events) {
                    replay.withUnsafeBytes { feedServer($0, into: &events) }
                }
                return
            case .stopped:
                server.offset += Int64(bytes.count)
                return
            }
        }
    }

    private mutating func acceptResponse(_ head: HTTPResponseHead, into events: inout [WireEvent]) {
        // Interim answers (100 Continue, 103 Early Hints) precede the real one.
        if (100...199).contains(head.status) && head.status != 101 {
            // Interim answers have no body; the parser must be reset or it repeats this head forever.
            startBody(&server, .none, then: .http)
            return
        }
        guard !pendingRequests.isEmpty else {
            startBody(&server, HTTPBodySkipper.framing(response: head, requestMethod: "GET"), then: .http)
            return
        }
        let request = pendingRequests.removeFirst()
        guard request.isUpgrade else {
            startBody(&server, HTTPBodySkipper.framing(response: head, requestMethod: request.head?.method ?? "GET"), then: .http)
            return
        }
        let outcome = WebSocketHandshake.evaluate(request: request.head, response: head)
        handshake = outcome
        events.append(.handshake(outcome))
        for issue in outcome.issues {
            let offset = issue.side == .client ? request.offset : server.headStart
            events.append(.violation(Violation(side: issue.side, kind: issue.kind, frameIndex: nil, streamOffset: offset, detail: issue.detail)))
        }
        let held = heldClientBytes
        heldClientBytes = []
        if outcome.upgraded {
            let deflate = outcome.deflate
            server.compression = deflate.map { .deflate(windowBits: $0.serverMaxWindowBits ?? 15, noContextTakeover: $0.serverNoContextTakeover) } ?? .none
            client.compression = deflate.map { .deflate(windowBits: $0.clientMaxWindowBits ?? 15, noContextTakeover: $0.clientNoContextTakeover) } ?? .none
            startFrames(&server, at: server.offset)
            if client.mode == .awaitingUpgradeAnswer {
                startFrames(&client, at: client.offset)
            }
        } else {
            startBody(&server, HTTPBodySkipper.framing(response: head, requestMethod: request.head?.method ?? "GET"), then: .http)
            if client.mode == .awaitingUpgradeAnswer { resumeClientHTTP() }
        }
        if !held.isEmpty {
            var replayed: [WireEvent] = []
            held.withUnsafeBytes { feedClient($0, into: &replayed) }
            events.append(contentsOf: replayed)
        }
    }

    private mutating func resumeClientHTTP() {
        client.mode = .http
        client.headParser.reset()
        client.headStart = client.offset
    }

    // MARK: Shared steps

    /// Without a handshake seen, a direction is searched for frames, unless its first bytes
    /// turn out to be an HTTP request or status line.
    private func decideMode(_ direction: inout Direction) {
        direction.compression = .unknown
        direction.mode = .resync
        direction.resyncStart = direction.offset
        direction.mayStartWithHTTP = true
    }

    private enum HTTPStart { case yes, no, undecided }

    /// Whether `bytes` begin like an HTTP request line (`TOKEN SP`) or a status line (`HTTP/1.`).
    private static func httpStart(_ bytes: [UInt8], side: Side) -> HTTPStart {
        switch side {
        case .server:
            let prefix = Array("HTTP/1.".utf8)
            let n = min(prefix.count, bytes.count)
            guard bytes[0..<n].elementsEqual(prefix[0..<n]) else { return .no }
            return n == prefix.count ? .yes : .undecided
        case .client:
            for (index, byte) in bytes.prefix(8).enumerated() {
                if byte == UInt8(ascii: " ") { return index >= 3 ? .yes : .no }
                if byte < UInt8(ascii: "A") || byte > UInt8(ascii: "Z") { return .no }
            }
            return bytes.count >= 8 ? .no : .undecided
        }
    }

    private func advance(_ direction: inout Direction, _ bytes: inout UnsafeRawBufferPointer, _ count: Int) {
        direction.offset += Int64(count)
        bytes = UnsafeRawBufferPointer(rebasing: bytes[count...])
    }

    private func startBody(_ direction: inout Direction, _ framing: HTTPBodySkipper.Framing, then next: Mode) {
        direction.headParser.reset()
        if framing == .none {
            direction.mode = next
            direction.headStart = direction.offset
        } else {
            direction.body = HTTPBodySkipper(framing)
            direction.afterBody = next
            direction.mode = .body
        }
    }

    private func walkBody(_ direction: inout Direction, _ bytes: inout UnsafeRawBufferPointer, into events: inout [WireEvent]) {
        let (consumed, outcome) = direction.body.skip(bytes)
        advance(&direction, &bytes, consumed)
        switch outcome {
        case .needMoreData:
            break
        case .done:
            direction.mode = direction.afterBody
            direction.headStart = direction.offset
        case .malformed(let problem):
            stop(&direction, "HTTP body: \(problem)", into: &events)
        }
    }

    private func startFrames(_ direction: inout Direction, at offset: Int64, after previous: FrameDecoder? = nil, midMessage: Bool = false) {
        var config = FrameDecoderConfiguration(side: direction.side, compression: direction.compression,
                                               maxInflatedMessageSize: configuration.maxInflatedMessageSize,
                                               reportsEachFrame: configuration.reportsEachFrame)
        config.digestsPayloads = configuration.digestsPayloads
        direction.frames = FrameDecoder(configuration: config, startOffset: offset, continuing: previous, joinedMidMessage: midMessage)
        direction.offset = offset
        direction.mode = .frames
    }

    private func stop(_ direction: inout Direction, _ reason: String, into events: inout [WireEvent]) {
        direction.mode = .stopped
        events.append(.stopped(direction.side, reason: reason, offset: direction.offset))
    }

    private func loseBytes(_ direction: inout Direction, _ missing: Int64, into events: inout [WireEvent]) {
        switch direction.mode {
        case .frames:
            let frames = direction.frames!
            let resumeAt = frames.consumedOffset + missing
            events.append(.notice(DecoderNotice(side: direction.side, kind: .gap, offset: frames.consumedOffset,
                                                detail: "\(missing) bytes missing from the capture; looking for the next frame")))
            // Lost bytes break a shared compression window; fresh windows survive.
            if case .deflate(_, false) = direction.compression { direction.compression = .unknown }
            direction.offset = resumeAt
            direction.resyncStart = resumeAt
            direction.resyncBuffer.removeAll()
            direction.mode = .resync
        case .resync:
            direction.offset = direction.resyncStart + Int64(direction.resyncBuffer.count) + missing
            direction.resyncStart = direction.offset
            direction.resyncBuffer.removeAll()
            direction.mayStartWithHTTP = false
        case .stopped:
            direction.offset += missing
        case .undecided:
            direction.offset += missing
        case .http, .body, .skippingHead, .awaitingUpgradeAnswer:
            let at = direction.offset
            direction.offset += missing
            direction.mode = .stopped
            events.append(.stopped(direction.side, reason: "\(missing) bytes missing from the capture during the HTTP exchange", offset: at))
        }
    }

    private func finishResync(_ direction: inout Direction, into events: inout [WireEvent]) -> [UInt8]? {
        guard direction.mode == .resync, !direction.resyncBuffer.isEmpty else { return nil }
        return resync(&direction, UnsafeRawBufferPointer(start: nil, count: 0), atEnd: true, into: &events)
    }

    /// Buffers bytes until a frame boundary is found, then decodes from it.
    ///
    /// - Returns: bytes to feed again as HTTP, when the direction turned out to start with HTTP.
    private func resync(_ direction: inout Direction, _ bytes: UnsafeRawBufferPointer, atEnd: Bool = false,
                        into events: inout [WireEvent]) -> [UInt8]? {
        // Every reset of the search empties the buffer; offsets ruled out before it no longer apply.
        if direction.resyncBuffer.isEmpty { direction.resyncRuledOut = 0 }
        let room = configuration.maxResyncBytes - direction.resyncBuffer.count
        let taken = min(room, bytes.count)
        if taken > 0 {
            direction.resyncBuffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[0..<taken]))
        }
        if direction.mayStartWithHTTP {
            switch Self.httpStart(direction.resyncBuffer, side: direction.side) {
            case .undecided where !atEnd:
                return nil
            case .yes:
                direction.mayStartWithHTTP = false
                direction.mode = .http
                direction.headStart = direction.offset
                var replay = direction.resyncBuffer
                direction.resyncBuffer = []
                if taken < bytes.count { replay.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[taken...])) }
                return replay
            case .no, .undecided:
                direction.mayStartWithHTTP = false
            }
        }
        let atLimit = direction.resyncBuffer.count >= configuration.maxResyncBytes
        let verdict = direction.resyncBuffer.withUnsafeBytes {
            FrameBoundaryScanner.scan($0, side: direction.side, atLimit: atLimit, atEnd: atEnd, ruledOut: &direction.resyncRuledOut)
        }
        switch verdict {
        case .needMoreData:
            return nil
        case .notFound:
            direction.offset = direction.resyncStart + Int64(direction.resyncBuffer.count + bytes.count - taken)
            direction.resyncBuffer = []
            direction.mode = .stopped
            let reason = atEnd && !atLimit
                ? "no WebSocket frame boundary found before the stream ended"
                : "no WebSocket frame boundary found in \(configuration.maxResyncBytes) bytes"
            events.append(.stopped(direction.side, reason: reason, offset: direction.resyncStart))
            return nil
        case .found(let skip):
            let buffered = direction.resyncBuffer
            direction.resyncBuffer = []
            let start = direction.resyncStart + Int64(skip)
            events.append(.resynchronised(direction.side, skippedBytes: Int64(skip), offset: start))
            startFrames(&direction, at: start, after: direction.frames, midMessage: true)
            buffered.withUnsafeBytes { direction.frames!.decode(UnsafeRawBufferPointer(rebasing: $0[skip...]), into: &events) }
            if taken < bytes.count {
                direction.frames!.decode(UnsafeRawBufferPointer(rebasing: bytes[taken...]), into: &events)
            }
            return nil
        }
    }
}
