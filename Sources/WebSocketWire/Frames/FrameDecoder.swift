/// Streams RFC 6455 frames of one direction, checking every MUST as bytes arrive.
///
/// It never holds a frame or message in memory: binary payloads are skipped, text
/// payloads are UTF-8-checked in place (unmasking on the fly), compressed payloads are
/// inflated piecewise into a scratch buffer. Control payloads (≤125 bytes) are kept.
/// After a violation it keeps going while the stream still parses; when it cannot
/// (a 64-bit length with the top bit set), it reports `.stopped` and ignores the rest.
public struct FrameDecoder {
    public let configuration: FrameDecoderConfiguration
    /// Offset in this direction's stream of the next unparsed frame element.
    private var streamOffset: Int64
    /// Bytes consumed so far in this direction, counted from the direction's first byte.
    public var consumedOffset: Int64 { streamOffset + Int64(pendingHeader.count) }
    public private(set) var framesDecoded = 0
    public private(set) var messagesDecoded = 0
    public private(set) var isStopped = false
    /// Whether this side has sent a close frame.
    public private(set) var closeSent = false

    private var phase: Phase = .header
    private var pendingHeader: [UInt8] = []
    private var frame = CurrentFrame()
    private var message: CurrentMessage?
    private var controlPayload: [UInt8] = []
    private var validator = UTF8StreamValidator()
    /// The direction's inflater, made on its first RSV1 message (without negotiation, to test
    /// whether the sender really compresses).
    private var inflater: Inflater?
    private var unmaskScratch: [UInt8] = []
    /// Frames and messages not yet reported, when they are summed (`reportsEachFrame` off).
    private var tally: FrameTally

    private enum Phase { case header, payload }

    private struct CurrentFrame {
        var info = FrameInfo(side: .client, index: 0, offset: 0, opcode: .continuation, fin: true,
                             reservedBits: 0, masked: false, payloadLength: 0, headerLength: 0)
        var maskKey: UInt32 = 0
        var remaining: UInt64 = 0
        var payloadRead: UInt64 = 0
        /// What to do with the payload bytes.
        var role: Role = .skip
    }

    /// `lengthOnly`: message data whose bytes are never looked at (binary, not inflated).
    private enum Role { case skip, messageData, lengthOnly, control }

    private struct CurrentMessage {
        var info: MessageInfo
        var inflating: Bool
        var inflatedSize: Int64 = 0
        var inflationAbandoned = false
        var stoppedAtLimit = false
        /// Inflated only to learn whether it is deflate data (RSV1 without negotiation):
        /// its failures and its text are not the sender's violations.
        var probing = false
        var utf8Reported = false
        var wireDigest = PayloadDigest()
        var contentDigest = PayloadDigest()
    }

    /// Whether decoding began mid-connection (after a gap or without the handshake), so the
    /// first continuation frames may belong to a message whose start was never seen.
    private var joinedMidMessage: Bool
    private var reportedUnknownCompression = false
    private var streamEnded = false

    /// - Parameters:
    ///   - startOffset: the direction's stream offset of the first byte to be fed
    ///     (after the HTTP handshake, or where resynchronisation found a frame boundary).
    ///   - continuing: counters carried over from the decoder this one replaces after a gap.
    public init(configuration: FrameDecoderConfiguration, startOffset: Int64 = 0, continuing previous: FrameDecoder? = nil,
                joinedMidMessage: Bool = false) {
        self.configuration = configuration
        self.streamOffset = startOffset
        self.joinedMidMessage = joinedMidMessage
        self.tally = FrameTally(side: configuration.side)
        if let previous {
            framesDecoded = previous.framesDecoded
            messagesDecoded = previous.messagesDecoded
            closeSent = previous.closeSent
        }
    }

    private var side: Side { configuration.side }

    /// Whether the next byte would start a frame header (so a frame could be inserted here).
    public var isBetweenFrames: Bool {
        !isStopped && phase == .header && pendingHeader.isEmpty
    }

    /// Decodes `bytes`, appending what it finds to `events`.
    public mutating func decode(_ bytes: UnsafeRawBufferPointer, into events: inout [WireEvent]) {
        var index = 0
        let count = bytes.count
        while index < count && !isStopped {
            switch phase {
            case .header:
                // Digests need each message's bytes: the short path skips payloads.
                if !configuration.reportsEachFrame && !configuration.digestsPayloads && pendingHeader.isEmpty && message == nil && !closeSent {
                    let taken = decodeOrdinaryFrames(bytes, from: index)
                    index += taken
                    if taken > 0 { continue }
                }
                index += readHeader(bytes, from: index, into: &events)
            case .payload:
                let available = UInt64(count - index)
                let take = Int(min(available, frame.remaining))
                if take > 0 {
                    consumePayload(UnsafeRawBufferPointer(rebasing: bytes[index..<(index + take)]), into: &events)
                    index += take
                    streamOffset += Int64(take)
                }
                if frame.remaining == 0 { endFrame(into: &events) }
            }
        }
        if isStopped && index < count {
            streamOffset += Int64(count - index)
        }
        if !tally.isEmpty { flushTally(into: &events) }
    }

    // MARK: Ordinary frames

    /// The common case at a fraction of the cost: whole unfragmented binary or text frames,
    /// RSV clear, the MASK bit right for the side, a minimal length, valid UTF-8, no message
    /// open and no close sent. Every check `parseHeader` makes passes for such a frame and it
    /// gives no event, only sums, which are added to the tally here in one go.
    /// Stops at the first frame that is anything else (or not wholly in `bytes`), which the
    /// general path then reads and checks.
    ///
    /// - Returns: how many bytes it consumed.
    private mutating func decodeOrdinaryFrames(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
        guard let base = bytes.baseAddress else { return 0 }
        let end = bytes.count
        let maskBit: UInt8 = side == .client ? 0x80 : 0
        let maskLength = side == .client ? 4 : 0
        var index = start
        var frames = 0, textFrames = 0
        var largest = 0, payloadBytes = 0
        var lastLength = 0, lastOpcode: UInt8 = 0
        while end &- index >= 2 {
            let b0 = base.load(fromByteOffset: index, as: UInt8.self)
            let b1 = base.load(fromByteOffset: index &+ 1, as: UInt8.self)
            // FIN, no RSV bit, binary (0x2) or text (0x1).
            guard b0 == 0x82 || b0 == 0x81, b1 & 0x80 == maskBit else { break }
            var length = Int(b1 & 0x7F)
            var headerLength = 2 &+ maskLength
            if length == 126 {
                guard end &- index >= 4 else { break }
                length = Int(base.load(fromByteOffset: index &+ 2, as: UInt8.self)) << 8
                    | Int(base.load(fromByteOffset: index &+ 3, as: UInt8.self))
                guard length >= 126 else { break }
                headerLength &+= 2
            } else if length == 127 {
                break
            }
            guard end &- index &- headerLength >= length else { break }
            if b0 == 0x81 {
                var mask: UInt32?
                if maskLength != 0 {
                    mask = UInt32(bigEndian: base.loadUnaligned(fromByteOffset: index &+ headerLength &- 4, as: UInt32.self))
                }
                var text = UTF8StreamValidator()
                let payload = UnsafeRawBufferPointer(start: base + (index &+ headerLength), count: length)
                guard text.validate(payload, mask: mask) == nil, text.finish() else { break }
                textFrames &+= 1
            }
            frames &+= 1
            payloadBytes &+= length
            if length > largest { largest = length }
            lastLength = length
            lastOpcode = b0 & 0x0F
            index &+= headerLength &+ length
        }
        guard frames > 0 else { return 0 }
        let consumed = index &- start
        tally.frames += frames
        tally.largestFrame = max(tally.largestFrame, UInt64(largest))
        tally.textMessages += textFrames
        tally.binaryMessages += frames &- textFrames
        tally.messageBytes += Int64(payloadBytes)
        tally.largestMessage = max(tally.largestMessage, Int64(largest))
        tally.lastMessage = MessageInfo(side: side, index: messagesDecoded &+ frames &- 1, opcode: Opcode(rawValue: lastOpcode),
                                        frameCount: 1, firstFrameIndex: framesDecoded &+ frames &- 1,
                                        wireSize: Int64(lastLength), size: Int64(lastLength), compressed: false, invalidUTF8Offset: nil)
        framesDecoded += frames
        messagesDecoded += frames
        streamOffset += Int64(consumed)
        joinedMidMessage = false
        return consumed
    }

    // MARK: Header

    /// Reads header bytes starting at `start`; returns how many bytes it consumed.
    private mutating func readHeader(_ bytes: UnsafeRawBufferPointer, from start: Int, into events: inout [WireEvent]) -> Int {
        let available = bytes.count - start
        if pendingHeader.isEmpty {
            // Fast path: the whole header is in this chunk.
            if available >= 2 {
                let needed = Self.headerLength(bytes[start], bytes[start + 1])
                if available >= needed {
                    parseHeader(UnsafeRawBufferPointer(rebasing: bytes[start..<(start + needed)]), firstBytesChecked: false, into: &events)
                    return needed
                }
            }
        }
        // Slow path: a header split across chunks. `streamOffset` stays at the frame start
        // until the header is parsed, so offsets never depend on how bytes were chunked.
        // What the first two bytes decide is checked as each arrives, as a fail-fast
        // endpoint does, and in the same order as the fast path checks them.
        var consumed = 0
        while consumed < available {
            pendingHeader.append(bytes[start + consumed])
            consumed += 1
            if pendingHeader.count == 1 {
                checkFirstByte(pendingHeader[0], into: &events)
            } else if pendingHeader.count == 2 {
                checkSecondByte(pendingHeader[0], pendingHeader[1], into: &events)
            }
            if pendingHeader.count >= 2, pendingHeader.count == Self.headerLength(pendingHeader[0], pendingHeader[1]) {
                let header = pendingHeader
                pendingHeader.removeAll(keepingCapacity: true)
                header.withUnsafeBytes { parseHeader($0, firstBytesChecked: true, into: &events) }
                break
            }
        }
        return consumed
    }

    /// The stream from this side ended (FIN, RST, end of capture). A frame cut short is
    /// reported with what could and could not be checked; its first bytes already were.
    public mutating func endOfStream(into events: inout [WireEvent]) {
        guard !isStopped, !streamEnded else { return }
        streamEnded = true
        let detail: String
        switch phase {
        case .header:
            guard !pendingHeader.isEmpty else { return }
            let held = pendingHeader.count
            if held == 1 {
                detail = "the stream ended 1 byte into the header of frame \(framesDecoded); its MASK bit and payload length were never seen"
            } else {
                let needed = Self.headerLength(pendingHeader[0], pendingHeader[1])
                let lengthEnd = needed - (pendingHeader[1] & 0x80 != 0 ? 4 : 0)
                let missing = held < lengthEnd ? "its extended payload length was never seen" : "its masking key was never seen"
                detail = "the stream ended \(held) of \(needed) bytes into the header of frame \(framesDecoded); \(missing)"
            }
        case .payload:
            guard frame.remaining > 0 else { return }
            detail = "the stream ended \(frame.remaining) bytes before the end of frame \(frame.info.index) (\(frame.info.opcode), \(frame.info.payloadLength) bytes); its end was never seen"
        }
        emit(.notice(DecoderNotice(side: side, kind: .truncatedFrame, offset: streamOffset, detail: detail)), into: &events)
    }

    @inline(__always)
    private static func headerLength(_ first: UInt8, _ second: UInt8) -> Int {
        let extended: Int
        switch second & 0x7F {
        case 126: extended = 2
        case 127: extended = 8
        default: extended = 0
        }
        return 2 + extended + (second & 0x80 != 0 ? 4 : 0)
    }

    /// Parses a complete header. `streamOffset` is where the header starts on entry and where
    /// the payload starts on return.
    private mutating func parseHeader(_ header: UnsafeRawBufferPointer, firstBytesChecked: Bool, into events: inout [WireEvent]) {
        let b0 = header[0], b1 = header[1]
        if !firstBytesChecked {
            checkFirstByte(b0, into: &events)
            checkSecondByte(b0, b1, into: &events)
        }
        let frameStart = streamOffset
        let index = framesDecoded
        var info = FrameInfo(side: side, index: index, offset: frameStart, opcode: Opcode(rawValue: b0 & 0x0F),
                             fin: b0 & 0x80 != 0, reservedBits: (b0 >> 4) & 0x07, masked: b1 & 0x80 != 0,
                             payloadLength: 0, headerLength: header.count)
        var cursor = 2
        let shortLength = b1 & 0x7F
        var length = UInt64(shortLength)
        var stop = false
        if shortLength == 126 {
            length = UInt64(header[2]) << 8 | UInt64(header[3])
            cursor = 4
            if length < 126 {
                violation(.nonMinimalLength, frame: index, at: frameStart,
                          "length \(length) sent in the 16-bit form; it fits in 7 bits", into: &events)
            }
        } else if shortLength == 127 {
            length = 0
            for i in 2..<10 { length = length << 8 | UInt64(header[i]) }
            cursor = 10
            if length & (1 << 63) != 0 {
                violation(.lengthTopBitSet, frame: index, at: frameStart,
                          "64-bit payload length has its most significant bit set", into: &events)
                stop = true
            } else if length <= 0xFFFF {
                violation(.nonMinimalLength, frame: index, at: frameStart,
                          "length \(length) sent in the 64-bit form; it fits in \(length < 126 ? "7" : "16") bits", into: &events)
            }
        }
        var maskKey: UInt32 = 0
        if info.masked {
            maskKey = UInt32(header[cursor]) << 24 | UInt32(header[cursor + 1]) << 16
                | UInt32(header[cursor + 2]) << 8 | UInt32(header[cursor + 3])
            info.maskKey = maskKey
        }
        info.payloadLength = length
        streamOffset += Int64(header.count)
        framesDecoded += 1

        if stop {
            // The header was read (as tshark shows it); only its payload cannot be walked over.
            reportFrame(info, into: &events)
            stopDirection("cannot find the next frame after an impossible payload length", into: &events)
            return
        }

        frame = CurrentFrame(info: info, maskKey: maskKey, remaining: length, payloadRead: 0, role: .skip)
        frame.role = beginPayload(info, into: &events)
        phase = .payload
        if length == 0 { endFrame(into: &events) }
    }

    /// Every rule byte 0 decides: FIN, RSV1-3 and the opcode, against what was negotiated
    /// and whether this side already sent its close frame.
    private mutating func checkFirstByte(_ b0: UInt8, into events: inout [WireEvent]) {
        let index = framesDecoded, at = streamOffset
        let opcode = Opcode(rawValue: b0)
        // §5.5.1 forbids data frames after a close; a pong answering a ping that crossed
        // the close is what §5.5.2 demands, and a ping is no data either.
        if closeSent, opcode != .ping, opcode != .pong {
            violation(.frameAfterClose, frame: index, at: at, "\(opcode) frame sent after this side's close frame", into: &events)
        }
        if opcode.isReserved {
            violation(.reservedOpcode, frame: index, at: at, "opcode 0x\(String(opcode.rawValue, radix: 16)) is reserved", into: &events)
        }
        let reservedBits = (b0 >> 4) & 0x07
        if reservedBits & 0b011 != 0 {
            let names = [(0b010, "RSV2"), (0b001, "RSV3")].filter { reservedBits & UInt8($0.0) != 0 }.map(\.1)
            violation(.reservedBitsSet, frame: index, at: at,
                      "\(names.joined(separator: " and ")) set; no negotiated extension defines it", into: &events)
        }
        if reservedBits & 0b100 != 0 {
            switch configuration.compression {
            case .none:
                violation(.rsv1WithoutExtension, frame: index, at: at,
                          "RSV1 set on a \(opcode) frame but no extension was negotiated", into: &events)
            case .deflate, .unknown:
                if opcode.isControl {
                    violation(.rsv1OnControlFrame, frame: index, at: at, "RSV1 set on a \(opcode) frame", into: &events)
                } else if opcode == .continuation {
                    violation(.rsv1OnContinuation, frame: index, at: at, "RSV1 set on a continuation frame", into: &events)
                }
            }
        }
        if opcode.isControl && b0 & 0x80 == 0 {
            violation(.controlFrameFragmented, frame: index, at: at, "\(opcode) frame has FIN clear", into: &events)
        }
    }

    /// Every rule byte 1 decides: the MASK bit, and a control frame's length (a 16- or
    /// 64-bit length form already means more than 125 bytes, or a non-minimal length).
    private mutating func checkSecondByte(_ b0: UInt8, _ b1: UInt8, into events: inout [WireEvent]) {
        let index = framesDecoded, at = streamOffset
        let opcode = Opcode(rawValue: b0)
        switch (side, b1 & 0x80 != 0) {
        case (.client, false):
            violation(.clientFrameUnmasked, frame: index, at: at, "client \(opcode) frame is not masked", into: &events)
        case (.server, true):
            violation(.serverFrameMasked, frame: index, at: at, "server \(opcode) frame is masked", into: &events)
        case (.client, true), (.server, false):
            break
        }
        let shortLength = b1 & 0x7F
        if opcode.isControl && shortLength > 125 {
            violation(.controlFrameTooLong, frame: index, at: at,
                      "\(opcode) frame uses the \(shortLength == 126 ? 16 : 64)-bit length form; control frames carry at most 125 bytes", into: &events)
        }
    }

    /// Decides what the payload is for, opening or continuing a message.
    private mutating func beginPayload(_ info: FrameInfo, into events: inout [WireEvent]) -> Role {
        if info.opcode.isReserved { return .skip }
        if info.opcode.isControl {
            controlPayload.removeAll(keepingCapacity: true)
            return .control
        }
        if info.opcode == .continuation {
            guard message != nil else {
                if joinedMidMessage { return .skip }
                violation(.continuationWithoutMessage, frame: info.index, at: info.offset,
                          "continuation frame with no fragmented message in progress", into: &events)
                return .skip
            }
            message!.info.frameCount += 1
            message!.info.wireSize += Int64(info.payloadLength)
            return Self.dataRole(message!)
        }
        joinedMidMessage = false
        if let open = message {
            violation(.dataFrameDuringFragmentedMessage, frame: info.index, at: info.offset,
                      "new \(info.opcode) frame while message \(open.info.index) (started at frame \(open.info.firstFrameIndex)) is unfinished",
                      into: &events)
            message = nil
        }
        var inflating = false, probing = false
        if info.rsv1 {
            switch configuration.compression {
            case .deflate(let windowBits, _):
                // Made on the first compressed message: an idle connection never pays for zlib's state.
                if inflater == nil { inflater = Inflater(windowBits: windowBits) }
                inflating = true
            case .unknown:
                if !reportedUnknownCompression {
                    reportedUnknownCompression = true
                    emit(.notice(DecoderNotice(side: side, kind: .compressionContextUnknown, offset: info.offset,
                                               detail: "compressed messages from message \(messagesDecoded) on are not inflated or checked: their compression context is unknown")), into: &events)
                }
            case .none:
                if inflater == nil { inflater = Inflater() }
                inflating = true
                probing = true
            }
        }
        message = CurrentMessage(
            info: MessageInfo(side: side, index: messagesDecoded, opcode: info.opcode, frameCount: 1,
                              firstFrameIndex: info.index, wireSize: Int64(info.payloadLength),
                              size: nil, compressed: info.rsv1, invalidUTF8Offset: nil),
            inflating: inflating, probing: probing)
        messagesDecoded += 1
        validator.reset()
        return Self.dataRole(message!)
    }

    /// Only inflated payloads and uncompressed text are read; other message bytes count by length.
    private static func dataRole(_ message: CurrentMessage) -> Role {
        message.inflating || (message.info.opcode == .text && !message.info.compressed) ? .messageData : .lengthOnly
    }

    // MARK: Payload

    private mutating func consumePayload(_ chunk: UnsafeRawBufferPointer, into events: inout [WireEvent]) {
        let phaseInMask = Int(frame.payloadRead & 3)
        frame.payloadRead += UInt64(chunk.count)
        frame.remaining -= UInt64(chunk.count)
        if configuration.digestsPayloads, frame.role == .messageData || frame.role == .lengthOnly, message != nil {
            message!.wireDigest.add(chunk, mask: frame.info.masked ? frame.maskKey : nil, phase: phaseInMask)
        }
        switch frame.role {
        case .skip, .lengthOnly:
            return
        case .control:
            let room = 125 - controlPayload.count
            if room > 0 {
                let kept = UnsafeRawBufferPointer(rebasing: chunk[0..<min(room, chunk.count)])
                appendUnmasked(kept, phase: phaseInMask, to: &controlPayload)
            }
        case .messageData:
            guard var current = message else { return }
            if current.inflating {
                if !current.inflationAbandoned {
                    // Taken out of `self` so the closure below does not force a copy of the decoder.
                    var scratch = unmaskScratch
                    unmaskScratch = []
                    scratch.removeAll(keepingCapacity: true)
                    appendUnmasked(chunk, phase: phaseInMask, to: &scratch)
                    scratch.withUnsafeBytes { inflateInto(&current, $0, end: false, into: &events) }
                    unmaskScratch = scratch
                }
            } else if current.info.opcode == .text && !current.info.compressed {
                let mask: UInt32? = frame.info.masked ? frame.maskKey : nil
                if let bad = validator.validate(chunk, mask: mask, maskPhase: phaseInMask), !current.utf8Reported {
                    current.utf8Reported = true
                    let payloadOffset = streamOffset + Int64(bad)
                    reportInvalidUTF8(&current, at: payloadOffset, into: &events)
                }
            }
            message = current
        }
    }

    private func appendUnmasked(_ bytes: UnsafeRawBufferPointer, phase: Int, to target: inout [UInt8]) {
        let start = target.count
        target.append(contentsOf: bytes)
        guard frame.info.masked else { return }
        let pattern = MaskPattern(key: frame.maskKey, phase: phase)
        target.withUnsafeMutableBytes { pattern.apply(to: UnsafeMutableRawBufferPointer(rebasing: $0[start...])) }
    }

    private mutating func inflateInto(_ current: inout CurrentMessage, _ input: UnsafeRawBufferPointer, end: Bool,
                                      into events: inout [WireEvent]) {
        guard let inflater else { return }
        let limit = configuration.maxInflatedMessageSize
        var size = current.inflatedSize
        var validator = self.validator
        var firstBad: Int64?
        let isText = current.info.opcode == .text && !current.probing
        let digests = configuration.digestsPayloads
        var digest = current.contentDigest
        let failure = inflater.inflate(input, endingMessage: end) { piece in
            let before = size
            size += Int64(piece.count)
            if digests { digest.add(piece) }
            if isText, firstBad == nil, let bad = validator.validate(piece) {
                firstBad = before + Int64(bad)
            }
            return size <= limit
        }
        self.validator = validator
        current.inflatedSize = size
        current.contentDigest = digest
        if let firstBad, !current.utf8Reported {
            current.utf8Reported = true
            reportInvalidUTF8(&current, at: frame.info.offset, insideMessage: firstBad, into: &events)
        }
        switch failure {
        case nil:
            break
        case .stoppedByReceiver:
            current.inflationAbandoned = true
            current.stoppedAtLimit = true
            emit(.notice(DecoderNotice(side: side, kind: .inflatedSizeLimit, offset: frame.info.offset,
                                       detail: "message \(current.info.index) inflates past \(limit) bytes; raise --max-inflated-size to check it")), into: &events)
            inflater.reset()
        case .corrupt where current.probing:
            current.inflationAbandoned = true
        case .corrupt(let reason):
            current.inflationAbandoned = true
            violation(.inflateFailed, frame: frame.info.index, at: frame.info.offset,
                      "message \(current.info.index) does not inflate: \(reason)", into: &events)
        }
    }

    private mutating func reportInvalidUTF8(_ current: inout CurrentMessage, at streamPosition: Int64,
                                            insideMessage: Int64? = nil, into events: inout [WireEvent]) {
        let inMessage = insideMessage ?? validator.firstInvalidOffset ?? 0
        current.info.invalidUTF8Offset = inMessage
        violation(.textNotUTF8, frame: frame.info.index, at: streamPosition,
                  "text message \(current.info.index) is not UTF-8 at byte \(inMessage) of the message", into: &events)
    }

    // MARK: Frame end

    private mutating func endFrame(into events: inout [WireEvent]) {
        phase = .header
        let info = frame.info
        reportFrame(info, into: &events)
        switch frame.role {
        case .skip:
            break
        case .control:
            endControlFrame(info, into: &events)
        case .messageData, .lengthOnly:
            if info.fin { endMessage(into: &events) }
        }
    }

    private mutating func endControlFrame(_ info: FrameInfo, into events: inout [WireEvent]) {
        switch info.opcode {
        case .close:
            let alreadyClosed = closeSent
            closeSent = true
            var code: UInt16?
            var reason = ""
            if controlPayload.count == 1 {
                violation(.closePayloadOneByte, frame: info.index, at: info.offset,
                          "close payload is 1 byte; it must be empty or start with a 2-byte code", into: &events)
            } else if controlPayload.count >= 2 {
                let value = UInt16(controlPayload[0]) << 8 | UInt16(controlPayload[1])
                code = value
                if !CloseCode.isAllowedOnWire(value) {
                    violation(.closeCodeNotAllowed, frame: info.index, at: info.offset,
                              "close code \(value) (\(CloseCode.name(of: value))) may not be sent in a close frame", into: &events)
                }
                let reasonBytes = controlPayload[2...]
                var reasonValidator = UTF8StreamValidator()
                let valid = reasonBytes.withUnsafeBytes { reasonValidator.validate($0) == nil } && reasonValidator.finish()
                if !valid {
                    violation(.closeReasonNotUTF8, frame: info.index, at: info.offset,
                              "close reason is not UTF-8 at byte \(reasonValidator.firstInvalidOffset ?? 0)", into: &events)
                }
                reason = String(decoding: reasonBytes, as: UTF8.self)
            }
            if !alreadyClosed {
                emit(.close(CloseFrameInfo(side: side, frameIndex: info.index, offset: info.offset, code: code, reason: reason)), into: &events)
            }
        case .ping:
            emit(.ping(ControlFrameInfo(side: side, frameIndex: info.index, offset: info.offset, payload: controlPayload)), into: &events)
        case .pong:
            emit(.pong(ControlFrameInfo(side: side, frameIndex: info.index, offset: info.offset, payload: controlPayload)), into: &events)
        default:
            break
        }
    }

    private mutating func endMessage(into events: inout [WireEvent]) {
        guard var current = message else { return }
        message = nil
        if current.inflating {
            if !current.inflationAbandoned {
                inflateInto(&current, UnsafeRawBufferPointer(start: nil, count: 0), end: true, into: &events)
            }
            if case .deflate(_, true) = configuration.compression { inflater?.reset() }
            // Past the bound, the size reached is reported (a lower bound), not the wire size.
            current.info.size = current.inflationAbandoned && !current.stoppedAtLimit ? nil : current.inflatedSize
            current.info.sizeIsLowerBound = current.stoppedAtLimit
        } else if current.info.compressed {
            current.info.size = nil
        } else {
            current.info.size = current.info.wireSize
        }
        let checkable = !current.info.compressed || (current.inflating && !current.inflationAbandoned && !current.probing)
        if current.info.opcode == .text && checkable && !current.utf8Reported && !validator.finish() {
            current.utf8Reported = true
            let inMessage = validator.firstInvalidOffset ?? 0
            current.info.invalidUTF8Offset = inMessage
            violation(.textNotUTF8, frame: frame.info.index, at: frame.info.offset,
                      "text message \(current.info.index) ends inside a UTF-8 sequence that starts at byte \(inMessage)", into: &events)
        }
        if configuration.digestsPayloads {
            current.info.wireDigest = current.wireDigest.value
            if !current.info.compressed {
                current.info.contentDigest = current.wireDigest.value
            } else if current.inflating && !current.inflationAbandoned && !current.probing {
                current.info.contentDigest = current.contentDigest.value
            }
        }
        reportMessage(current.info, into: &events)
    }

    // MARK: Helpers

    /// Appends `event` after the frames and messages summed so far, which came before it.
    private mutating func emit(_ event: WireEvent, into events: inout [WireEvent]) {
        if !tally.isEmpty { flushTally(into: &events) }
        events.append(event)
    }

    private mutating func flushTally(into events: inout [WireEvent]) {
        events.append(.tally(tally))
        tally = FrameTally(side: side)
    }

    @inline(__always)
    private mutating func reportFrame(_ info: FrameInfo, into events: inout [WireEvent]) {
        if configuration.reportsEachFrame { events.append(.frame(info)) } else { tally.add(info) }
    }

    private mutating func reportMessage(_ info: MessageInfo, into events: inout [WireEvent]) {
        if configuration.reportsEachFrame { events.append(.message(info)) } else { tally.add(info) }
    }

    private mutating func violation(_ kind: ViolationKind, frame index: Int, at offset: Int64, _ detail: String,
                           into events: inout [WireEvent]) {
        emit(.violation(Violation(side: side, kind: kind, frameIndex: index, streamOffset: offset, detail: detail)), into: &events)
    }

    private mutating func stopDirection(_ reason: String, into events: inout [WireEvent]) {
        isStopped = true
        emit(.stopped(side, reason: reason, offset: streamOffset), into: &events)
    }
}
