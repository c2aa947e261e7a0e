import WebSocketWire

/// Turns one connection's bytes and transport events into `ConnectionFacts`.
///
/// Feeders (capture reassembly, the live proxy) call it; it never knows which one.
/// Everything it keeps is bounded by `AnalyzerConfiguration`.
public struct ConnectionAnalyzer {
    public let configuration: AnalyzerConfiguration
    public private(set) var facts: ConnectionFacts
    /// Frames and messages kept (the first and the latest), when `recordTimeline` is on.
    public private(set) var recordedTimeline: BoundedTimeline
    /// The kept frames and messages in order.
    public var timeline: [TimelineEntry] { recordedTimeline.entries }
    public var timelineEntriesNotKept: Int { recordedTimeline.notKept }
    /// Where in `timeline` the entries not kept belong (nil when none were dropped).
    public var timelineGap: Int? { recordedTimeline.gap }

    private var decoder: ConnectionDecoder
    private var events: [WireEvent] = []
    /// Set by the handshake: the array its events grew is given back once they are absorbed,
    /// so an idle WebSocket connection holds none (its first frames grow a small one).
    private var releasesEventStorage = false
    /// The last response that came with no upgrade request seen (one to an unread request head).
    private var responseWithoutRequest: (head: HTTPResponseHead, at: Timestamp)?
    /// Made on the first ping: an idle connection keeps no table.
    private var outstandingPings: [Side: [(payload: [UInt8], at: Timestamp)]] = [:]

    public init(facts: ConnectionFacts, configuration: AnalyzerConfiguration = AnalyzerConfiguration()) {
        self.configuration = configuration
        self.facts = facts
        self.recordedTimeline = BoundedTimeline(capacity: configuration.maxTimelineEntries,
                                                keepsLatest: configuration.keepsLatestTimelineEntries)
        var decoderConfiguration = configuration.decoder
        // Facts need only sums of ordinary frames and messages; a timeline needs each one.
        decoderConfiguration.reportsEachFrame = configuration.recordTimeline
        self.decoder = ConnectionDecoder(configuration: decoderConfiguration)
    }

    /// Whether TCP has ended (reset, FIN both ways, or end of capture).
    public var isFinished: Bool { facts.closed != nil }

    // MARK: Feeding

    public mutating func received(_ bytes: UnsafeRawBufferPointer, from side: Side, at time: Timestamp) {
        guard !bytes.isEmpty else { return }
        update(side) { $0.bytes += Int64(bytes.count); $0.lastActivityAt = time }
        decoder.feed(bytes, from: side, into: &events)
        absorbEvents(at: time)
    }

    public mutating func gap(from side: Side, missing: Int64, at time: Timestamp) {
        if side == .client { facts.missingClientBytes += missing } else { facts.missingServerBytes += missing }
        decoder.gap(from: side, missing: missing, into: &events)
        absorbEvents(at: time)
    }

    public mutating func finished(from side: Side, at time: Timestamp) {
        if side == .client { facts.transport.clientFinAt = time } else { facts.transport.serverFinAt = time }
        noteEnd(.fin, by: side, at: time)
        decoder.endOfStream(from: side, into: &events)
        absorbEvents(at: time)
        if facts.transport.clientFinAt != nil && facts.transport.serverFinAt != nil { finish(at: time) }
    }

    public mutating func reset(from side: Side, at time: Timestamp) {
        if facts.transport.resetBy == nil {
            facts.transport.resetBy = side
            facts.transport.resetAt = time
        }
        noteEnd(.rst, by: side, at: time)
        finish(at: time)
    }

    /// Whether `side`'s stream sits between two frames, where a close frame could be added.
    public func isBetweenFrames(from side: Side) -> Bool {
        decoder.isBetweenFrames(from: side)
    }

    /// The proxy itself closed the connection (shutting down, or a limit of its own was hit).
    public mutating func noteClosedByProxy(_ close: ProxyClose, at time: Timestamp) {
        facts.closedByProxy = true
        facts.proxyClose = close
        sourceEnded(at: time)
    }

    /// wsdoctor proxy injected a fault; a later note for the same fault id replaces the earlier.
    public mutating func noteFault(_ fault: InjectedFault) {
        if let index = facts.faults.firstIndex(where: { $0.id == fault.id }) {
            facts.faults[index] = fault
        } else {
            facts.faults.append(fault)
        }
    }

    /// wsdoctor proxy sent `frame` (a fault's close) to one side: its close frame then answers it.
    public mutating func noteInjectedClose(_ frame: InjectedCloseFrame) {
        guard !facts.injectedCloses.contains(where: { $0.toward == frame.toward }) else { return }
        facts.injectedCloses.append(frame)
    }

    /// The server's address once known (a proxy connecting to a host name learns it late).
    public mutating func setServerEndpoint(_ endpoint: Endpoint) {
        facts.server = endpoint
    }

    /// A proxy could not connect to the server for this client; the connection is over.
    public mutating func noteUpstreamFailure(_ reason: String, at time: Timestamp) {
        facts.upstreamError = reason
        noteEnd(.rst, by: .server, at: time)
        finish(at: time)
    }

    /// A live capture stopped following the connection after a long silence; its end was not seen.
    public mutating func trackingExpired(at time: Timestamp) {
        facts.transport.trackingExpired = true
        sourceEnded(at: time)
    }

    /// The source ended (capture over, proxy shutting down) with the connection still open.
    public mutating func sourceEnded(at time: Timestamp) {
        guard facts.closed == nil else { return }
        facts.transport.captureEndedOpen = true
        noteEnd(.captureEnd, by: nil, at: time)
        finish(at: time)
    }

    private mutating func noteEnd(_ end: TransportFacts.End, by side: Side?, at time: Timestamp) {
        guard facts.transport.firstEnd == nil else { return }
        facts.transport.firstEnd = end
        facts.transport.firstEndBy = side
        facts.transport.firstEndAt = time
        facts.transport.lastActivityBeforeEnd = [facts.fromClient.lastActivityAt, facts.fromServer.lastActivityAt].compactMap { $0 }.max()
    }

    private mutating func finish(at time: Timestamp) {
        guard facts.closed == nil else { return }
        for side in Side.allCases { decoder.endOfStream(from: side, into: &events) }
        absorbEvents(at: time)
        facts.closed = time
        for side in Side.allCases {
            let pending = outstandingPings[side] ?? []
            update(side) {
                $0.unansweredPings = pending.count
                $0.oldestUnansweredPingAt = pending.first?.at
            }
        }
    }

    // MARK: Events

    private mutating func absorbEvents(at time: Timestamp) {
        guard !events.isEmpty else { return }
        for event in events {
            absorb(event, at: time)
        }
        events.removeAll(keepingCapacity: !releasesEventStorage)
        releasesEventStorage = false
    }

    private mutating func absorb(_ event: WireEvent, at time: Timestamp) {
        switch event {
        case .request(let head, _):
            if facts.handshake == nil || facts.handshake?.upgraded == false {
                if WebSocketHandshake.isUpgradeRequest(head) {
                    facts.handshake = HandshakeFacts(method: head.method, target: head.target, host: head.headers["Host"],
                                                     requestHeaders: head.headers, requestedAt: time)
                } else {
                    facts.httpRequestsBeforeUpgrade += 1
                }
            }
            record(event, at: time)
        case .response(let head, _):
            if var handshake = facts.handshake, handshake.status == nil, head.status >= 200 || head.status == 101 {
                handshake.status = head.status
                handshake.reason = head.reason
                handshake.responseHeaders = head.headers
                handshake.answeredAt = time
                facts.handshake = handshake
            } else if facts.handshake == nil {
                responseWithoutRequest = (head, time)
            }
            record(event, at: time)
        case .handshake(let outcome):
            if facts.handshake == nil {
                // The request head was too large to read; the answer still tells the upgrade.
                let response = responseWithoutRequest
                var unread = HandshakeFacts(method: "GET", target: "", host: nil, requestHeaders: HTTPHeaders(), requestedAt: response?.at ?? time)
                unread.requestHeadRead = false
                unread.status = outcome.status
                unread.reason = response?.head.reason
                unread.responseHeaders = response?.head.headers
                unread.answeredAt = response?.at ?? time
                facts.handshake = unread
            }
            facts.handshake?.upgraded = outcome.upgraded
            facts.handshake?.subprotocol = outcome.subprotocol
            facts.handshake?.extensions = outcome.extensions.map(\.description)
            facts.handshake?.deflate = outcome.deflate
            if outcome.upgraded { facts.carriesWebSocket = true }
            releasesEventStorage = true
        case .resynchronised:
            facts.carriesWebSocket = true
            if facts.handshake == nil { facts.joinedMidStream = true }
            record(event, at: time)
        case .frame(let frame):
            update(frame.side) {
                $0.frames += 1
                $0.largestFrame = max($0.largestFrame, frame.payloadLength)
            }
            record(event, at: time)
        case .message(let message):
            absorbMessage(message, at: time)
            record(event, at: time)
        case .tally(let tally):
            absorbTally(tally, at: time)
        case .close(let close):
            let closeFacts = CloseFacts(code: close.code, reason: close.reason, at: time, frameIndex: close.frameIndex, offset: close.offset)
            if facts.clientClose == nil && facts.serverClose == nil {
                facts.clientLastMessageBeforeClose = facts.fromClient.lastMessage
                facts.serverLastMessageBeforeClose = facts.fromServer.lastMessage
                facts.violationsBeforeFirstClose = facts.violations.count
            } else if facts.close(from: close.side) == nil {
                facts.violationsBeforeAnswer = facts.violations.count
            }
            if close.side == .client {
                if facts.clientClose == nil { facts.clientClose = closeFacts }
            } else if facts.serverClose == nil {
                facts.serverClose = closeFacts
            }
            record(event, at: time)
        case .ping(let ping):
            update(ping.side) { $0.pings += 1 }
            if outstandingPings[ping.side, default: []].count < configuration.maxOutstandingPings {
                outstandingPings[ping.side, default: []].append((ping.payload, time))
            }
            record(event, at: time)
        case .pong(let pong):
            update(pong.side) { $0.pongs += 1 }
            // A pong answers the oldest ping with the same payload (RFC 6455 §5.5.3).
            let pinger = pong.side.peer
            if let index = outstandingPings[pinger, default: []].firstIndex(where: { $0.payload == pong.payload }) {
                outstandingPings[pinger]!.removeSubrange(0...index)
                update(pinger) { $0.pingsAnswered += 1 }
            }
            record(event, at: time)
        case .violation(let violation):
            if facts.violations.count < configuration.maxViolations {
                facts.violations.append(violation)
            } else {
                facts.violationsNotKept += 1
            }
            record(event, at: time)
        case .notice(let notice):
            if facts.notices.count < configuration.maxViolations { facts.notices.append(notice) }
            record(event, at: time)
        case .stopped(let side, let reason, let offset):
            facts.undecodable.append(UndecodableDirection(side: side, reason: reason, offset: offset))
            record(event, at: time)
        }
    }

    private mutating func absorbMessage(_ message: MessageInfo, at time: Timestamp) {
        if message.compressed, message.size != nil, facts.handshake?.deflate == nil {
            if message.side == .client { facts.clientInflatedWithoutExtension += 1 } else { facts.serverInflatedWithoutExtension += 1 }
        }
        update(message.side) { direction in
            direction.messages += 1
            if message.opcode == .text { direction.textMessages += 1 } else { direction.binaryMessages += 1 }
            let size = message.size ?? message.wireSize
            direction.messageBytes += size
            direction.largestMessage = max(direction.largestMessage, size)
            if direction.firstMessageAt == nil { direction.firstMessageAt = time }
            direction.lastMessageAt = time
            direction.lastMessage = MessageSummary(index: message.index, opcode: message.opcode, size: message.size,
                                                   wireSize: message.wireSize, at: time)
            direction.recentMessageTimes.record(time)
        }
    }

    /// The same facts as each frame and message of `tally` absorbed one by one at `time`.
    private mutating func absorbTally(_ tally: FrameTally, at time: Timestamp) {
        if tally.inflatedMessages > 0, facts.handshake?.deflate == nil {
            if tally.side == .client { facts.clientInflatedWithoutExtension += tally.inflatedMessages } else { facts.serverInflatedWithoutExtension += tally.inflatedMessages }
        }
        update(tally.side) { direction in
            direction.frames += tally.frames
            direction.largestFrame = max(direction.largestFrame, tally.largestFrame)
            guard let last = tally.lastMessage else { return }
            direction.messages += tally.messages
            direction.textMessages += tally.textMessages
            direction.binaryMessages += tally.binaryMessages
            direction.messageBytes += tally.messageBytes
            direction.largestMessage = max(direction.largestMessage, tally.largestMessage)
            if direction.firstMessageAt == nil { direction.firstMessageAt = time }
            direction.lastMessageAt = time
            direction.lastMessage = MessageSummary(index: last.index, opcode: last.opcode, size: last.size, wireSize: last.wireSize, at: time)
            direction.recentMessageTimes.record(time, times: tally.messages)
        }
    }

    /// Hands over the timeline recorded so far and forgets it (live display, where entries
    /// are printed as they happen instead of kept).
    public mutating func drainTimeline() -> [TimelineEntry] {
        defer { recordedTimeline.removeAll() }
        return recordedTimeline.entries
    }

    private mutating func record(_ event: WireEvent, at time: Timestamp) {
        guard configuration.recordTimeline else { return }
        recordedTimeline.append(TimelineEntry(at: time, event: event))
    }

    private mutating func update(_ side: Side, _ change: (inout DirectionFacts) -> Void) {
        switch side {
        case .client: change(&facts.fromClient)
        case .server: change(&facts.fromServer)
        }
    }
}
