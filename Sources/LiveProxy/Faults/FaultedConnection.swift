import Diagnosis
import FaultInjection
import MetricsReporting
import NIOCore
import WebSocketWire

/// The faults of one connection through the proxy: which apply, when they fire, and what
/// they do to the bytes each `FaultHandler` passes toward its peer.
///
/// Exists only when faults are configured. It decodes both directions with its own
/// `ConnectionDecoder` to find frame boundaries (the session's analyzer sees the peers'
/// bytes as they sent them, never wsdoctor's edits). Lives on the connection's event loop.
final class FaultedConnection {
    private let book: FaultBook
    private let loop: any EventLoop
    private let metrics: LiveMetrics?
    /// The session owns this object; the session outlives it.
    private unowned let session: ProxySession
    weak var clientHandler: FaultHandler?
    weak var serverHandler: FaultHandler?

    private var decoder = ConnectionDecoder()
    private var machine = ConnectionFaultStateMachine()
    private var towardClient = StreamEditor(toward: .client)
    private var towardServer = StreamEditor(toward: .server)
    /// Bytes fed to the decoder from each side.
    private var fromClient: Int64 = 0
    private var fromServer: Int64 = 0
    /// The client's first request head, read before the upstream is connected (nil once
    /// decided), to match its path and refuse without contacting the server.
    private var headBeforeUpstream: HTTPHeadParser?
    /// The first request head was read whole before the upstream was connected.
    private(set) var requestHeadRead = false
    /// The refusal that head matched, done by `refuseBeforeUpstream`.
    private var refusal: Fault?
    /// The first answer (toward the client) is held until complete, to edit the 101;
    /// bounded by `maxHeldHead`.
    private var heldResponse: [UInt8]? = []
    /// Past this a head passes unmatched: the decoder's own head limit.
    private let maxHeldHead = ConnectionDecoderConfiguration().maxHeadSize
    private var claimed: [Fault] = []
    private var stripping: Fault?
    /// Sides sent wsdoctor's close frame whose close frame has not come back yet.
    private var awaitingCloseReply: Set<Side> = []
    private var closing: (fault: Fault, code: UInt16, reason: String, toward: FaultAction.Toward)?
    private var timers: [Scheduled<Void>] = []
    /// What each fault has done so far, for the report.
    private var done: [String: (fault: InjectedFault, count: Int)] = [:]
    /// Once a fault has ended the connection, wsdoctor's own bytes (an HTTP answer) pass unedited.
    private(set) var passesThrough = false

    /// How long a side closed by a fault has to answer with its close frame, as an endpoint
    /// would wait, before the TCP connection is closed anyway.
    static let closeReplyTimeout: TimeAmount = .seconds(5)

    init(book: FaultBook, session: ProxySession, loop: any EventLoop, metrics: LiveMetrics?) {
        self.book = book
        self.session = session
        self.loop = loop
        self.metrics = metrics
        headBeforeUpstream = HTTPHeadParser(kind: .request, maxHeadSize: maxHeldHead)
    }

    // MARK: Before the upstream

    /// `ended`: wsdoctor already answered the client itself (`--head-timeout`); nothing is
    /// to be connected for it.
    enum HeadDecision { case needMore, forward, refused, ended }

    /// Reads `bytes`, the client's, while its first request head is incomplete and nothing is
    /// connected upstream: the head's path decides which faults apply.
    func requestBytesBeforeUpstream(_ bytes: ByteBuffer) -> HeadDecision {
        guard !session.isFinished else {
            headBeforeUpstream = nil
            return .ended
        }
        guard var parser = headBeforeUpstream else { return .forward }
        let outcome = bytes.withUnsafeReadableBytes { parser.parse($0).outcome }
        headBeforeUpstream = parser
        switch outcome {
        case .needMoreData:
            return .needMore
        case .request(let head):
            headBeforeUpstream = nil
            requestHeadRead = true
            guard WebSocketHandshake.isUpgradeRequest(head) else { return .forward }
            claimed = book.claim(target: head.target)
            for case .fire(let fault) in machine.requestHead(faults: claimed) {
                guard case .refuse = fault.action else { continue }
                refusal = fault
                return .refused
            }
            return .forward
        case .response, .malformed, .tooLarge:
            // Not a request head wsdoctor can read: relayed unmatched, as the decoder will see it.
            headBeforeUpstream = nil
            return .forward
        }
    }

    /// Answers the refused upgrade; `held` (what the client sent) is analysed, never forwarded.
    func refuseBeforeUpstream(_ held: [ByteBuffer]) {
        guard let refusal else { return }
        for buffer in held { session.received(buffer, from: .client) }
        refuse(refusal)
    }

    private func handler(_ side: Side) -> FaultHandler? { side == .client ? clientHandler : serverHandler }

    // MARK: Bytes

    /// What to send `side` for `chunk`, sent to it by its peer.
    func bytes(toward side: Side, _ chunk: [UInt8]) -> [UInt8] {
        let from = side.peer
        let base = fed(from)
        var events: [WireEvent] = []
        chunk.withUnsafeBytes { decoder.feed($0, from: from, into: &events) }
        if from == .client { fromClient += Int64(chunk.count) } else { fromServer += Int64(chunk.count) }
        defer { noteFrameBoundaries(events) }
        if side == .client, heldResponse != nil { return answer(chunk, events: events) }
        // Faults fire at the end of the message that triggers them, even mid-chunk: the bytes
        // before it are edited as the faults were, the rest as the faults now are.
        var output: [UInt8] = []
        // Once a stall toward `side` holds its bytes, the rest waits with them.
        var stalledFrom: Int? = stalled.contains(side) ? 0 : nil
        var ended = false
        var segmentStart = base
        var segmentFrames: [WireEvent] = []
        var lastFrameEnd = base
        for event in events where !ended {
            var due: [ConnectionFaultStateMachine.Action] = []
            switch event {
            case .frame(let info) where info.side == from:
                segmentFrames.append(event)
                lastFrameEnd = info.end
            case .message:
                due = machine.messageSeen()
            case .close(let close):
                if awaitingCloseReply.remove(close.side) != nil, awaitingCloseReply.isEmpty { due.append(.fire(Self.closeReplied)) }
            default:
                break
            }
            guard !due.isEmpty else { continue }
            output += edit(chunk[Int(segmentStart - base)..<Int(lastFrameEnd - base)], toward: side, base: segmentStart,
                           events: segmentFrames, betweenFrames: true)
            segmentStart = lastFrameEnd
            segmentFrames = []
            for action in due { output += perform(action, whileSending: side, atBoundary: true) }
            // A fault that ended the connection here: nothing after its boundary passes.
            ended = passesThrough
            if stalledFrom == nil, stalled.contains(side) { stalledFrom = output.count }
        }
        if !ended {
            let between = decoder.isBetweenFrames(from: from)
            // A frame this chunk leaves unfinished began after its last whole frame, or earlier.
            let unfinished = between ? nil : lastFrameEnd > base ? lastFrameEnd : frameStart[from]
            output += edit(chunk[Int(segmentStart - base)...], toward: side, base: segmentStart, events: segmentFrames,
                           betweenFrames: between, unfinishedFrameStart: unfinished)
        }
        if let stalledFrom { holdForStall(&output, from: stalledFrom, toward: side) }
        return output
    }

    /// Sides a `stall` holds the bytes toward, and what it holds beyond the kernel's: the rest
    /// of the reads already under way when it fired (a few reads at most).
    private var stalled: Set<Side> = []
    private var heldByStall: [Side: [UInt8]] = [:]

    private func holdForStall(_ output: inout [UInt8], from start: Int, toward side: Side) {
        guard stalled.contains(side), start < output.count else { return }
        heldByStall[side, default: []] += output[start...]
        output.removeSubrange(start...)
    }

    /// The stall toward `sides` is over: what it held goes first, then the kernel's.
    private func endStall(_ sides: [Side]) {
        for side in sides {
            stalled.remove(side)
            if let held = heldByStall.removeValue(forKey: side), !held.isEmpty { handler(side)?.sendOwn(held) }
            handler(side.peer)?.resumeReads()
        }
    }

    private func fed(_ side: Side) -> Int64 { side == .client ? fromClient : fromServer }

    /// Edits one stretch of a chunk toward `side` with that side's editor, and reports the edits.
    private func edit(_ bytes: ArraySlice<UInt8>, toward side: Side, base: Int64, events: [WireEvent], betweenFrames: Bool,
                      unfinishedFrameStart: Int64? = nil) -> [UInt8] {
        let stretch = Array(bytes)
        let result = side == .client
            ? towardClient.edit(stretch, base: base, events: events, betweenFrames: betweenFrames, unfinishedFrameStart: unfinishedFrameStart)
            : towardServer.edit(stretch, base: base, events: events, betweenFrames: betweenFrames, unfinishedFrameStart: unfinishedFrameStart)
        for edit in result.edits { record(edit, toward: side) }
        return result.bytes
    }

    /// The first answer toward the client (the 101), held until its head is complete.
    private func answer(_ chunk: [UInt8], events: [WireEvent]) -> [UInt8] {
        var due: [ConnectionFaultStateMachine.Action] = []
        var headEnded = false
        for event in events {
            switch event {
            case .response(let head, _):
                headEnded = true
                due += machine.response(status: head.status)
            case .message:
                due += machine.messageSeen()
            default:
                break
            }
        }
        for case .fire(let fault) in due where fault.action == .stripExtensions { stripping = fault }
        heldResponse! += chunk
        if !headEnded && heldResponse!.count <= maxHeldHead { return [] }
        var output = stripping.map { stripExtensions(heldResponse!, fault: $0) } ?? heldResponse!
        heldResponse = nil
        for action in due { output += perform(action, whileSending: .client, atBoundary: decoder.isBetweenFrames(from: .server)) }
        return output
    }

    /// Where the frame each side is in the middle of began (nil: unknown), so that an edit
    /// can reach a frame whose start was in an earlier chunk.
    private var frameStart: [Side: Int64] = [:]

    private func noteFrameBoundaries(_ events: [WireEvent]) {
        for case .frame(let info) in events { frameStart[info.side] = info.end }
        for side in Side.allCases where decoder.isBetweenFrames(from: side) { frameStart[side] = fed(side) }
    }

    /// Stands for "every close frame wsdoctor sent came back".
    private static let closeReplied = Fault(id: "", action: .reset)

    // MARK: Actions

    /// Does an action; returns bytes to append to what is being sent `current` now, whose
    /// stream sits between frames there when `atBoundary`.
    private func perform(_ action: ConnectionFaultStateMachine.Action, whileSending current: Side, atBoundary: Bool) -> [UInt8] {
        switch action {
        case .armTimer(let fault, let seconds):
            timers.append(loop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(seconds * 1e9))) { [self] in
                for case .fire(let due) in machine.timerFired(fault) { fire(due, whileSending: nil) }
            })
            return []
        case .fire(let fault):
            if fault == Self.closeReplied {
                // Once the session has analysed the answer being relayed now.
                loop.assumeIsolated().execute { [self] in finishClose(replied: true) }
                return []
            }
            return fire(fault, whileSending: current, atBoundary: atBoundary)
        }
    }

    /// Acts on the connection now (a trigger, or the control API). Bytes for `current` are
    /// returned to be appended to its chunk (which ends between frames when `atBoundary`);
    /// bytes for the other side are sent at once.
    @discardableResult
    func fire(_ fault: Fault, whileSending current: Side?, atBoundary: Bool = false) -> [UInt8] {
        guard !passesThrough else { return [] }
        switch fault.action {
        case .close(let code, let reason, let toward):
            return startClose(fault, code: code, reason: reason, toward: toward, whileSending: current, atBoundary: atBoundary)
        case .refuse:
            refuse(fault)
        case .reset:
            note(fault, "reset both TCP connections (RST), with no close frame", ended: true)
            machine.ended()
            passesThrough = true
            // Once the bytes being relayed now are out: a reset drops what is still unsent.
            loop.assumeIsolated().execute { [self] in
                session.endByFault(ProxyClose(reason: .fault, sentToClient: "a TCP reset, no close frame", sentToServer: "a TCP reset, no close frame")) {
                    session.clientHandler?.partnerReset()
                    session.serverHandler?.partnerReset()
                }
            }
        case .dropPings(let toward):
            editors(toward) { $0.dropPings = fault.id }
            note(fault, "dropping pings toward the \(toward.words)")
        case .dropPongs(let toward):
            editors(toward) { $0.dropPongs = fault.id }
            note(fault, "dropping pongs toward the \(toward.words)")
        case .corruptUTF8(let toward):
            editors(toward) { $0.corruptNextText = fault.id }
            note(fault, "waiting for a text message toward the \(toward.words) to break its UTF-8")
        case .setRSV1(let toward):
            editors(toward) { $0.setRSV1Next = fault.id }
            note(fault, "waiting for a data frame toward the \(toward.words) to set RSV1 on")
        case .stall(let toward, let seconds):
            for side in toward.sides {
                stalled.insert(side)
                handler(side.peer)?.pauseReads()
            }
            note(fault, "held the bytes toward the \(toward.words) " + (seconds.map { "for \(Self.format($0)) s" } ?? "until the connection ended"))
            if let seconds {
                timers.append(loop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(seconds * 1e9))) { [self] in endStall(toward.sides) })
            }
        case .latency(let toward, let milliseconds):
            for side in toward.sides { handler(side)?.latency = .milliseconds(Int64(milliseconds)) }
            note(fault, "delaying the bytes toward the \(toward.words) by \(milliseconds) ms")
        case .stripExtensions:
            stripping = fault
        }
        return []
    }

    /// Changes the editors of the bytes toward the sides `toward` names.
    private func editors(_ toward: FaultAction.Toward, _ change: (inout StreamEditor) -> Void) {
        if toward.includes(.client) { change(&towardClient) }
        if toward.includes(.server) { change(&towardServer) }
    }

    private func startClose(_ fault: Fault, code: UInt16, reason: String, toward: FaultAction.Toward, whileSending current: Side?,
                            atBoundary: Bool) -> [UInt8] {
        guard closing == nil else { return [] }
        machine.ended()
        closing = (fault, code, reason, toward)
        var now: [UInt8] = []
        for side in Side.allCases {
            guard toward.includes(side) else {
                // Not closed with a frame: it gets nothing more, then only the TCP close.
                if side == .client { towardClient.discard() } else { towardServer.discard() }
                continue
            }
            awaitingCloseReply.insert(side)
            let frame = ProxySession.closeFrame(code: code, reason: reason, masked: side == .server)
            // The chunk being sent stops at `atBoundary`; the other stream is where the decoder is.
            let between = side == current ? atBoundary
                                          : decoder.isBetweenFrames(from: side.peer) && (side == .server || heldResponse == nil)
            let immediate = side == .client ? towardClient.close(with: frame, faultID: fault.id, betweenFrames: between)
                                            : towardServer.close(with: frame, faultID: fault.id, betweenFrames: between)
            if let immediate {
                record(.sentClose(faultID: fault.id), toward: side)
                if side == current { now += immediate } else { handler(side)?.sendOwn(immediate) }
            }
        }
        timers.append(loop.assumeIsolated().scheduleTask(in: Self.closeReplyTimeout) { [self] in finishClose(replied: false) })
        return now
    }

    /// Every side closed by wsdoctor answered (or the wait ran out): both TCP connections close.
    private func finishClose(replied: Bool) {
        guard let closing, !passesThrough else { return }
        passesThrough = true
        let code = closing.code, reason = closing.reason
        let frame = "a close frame \(code) (\(reason.isEmpty ? CloseCode.name(of: code) : reason)) from wsdoctor"
        let tail = replied ? ", answered; then the TCP close" : "; no close frame came back within \(Self.closeReplyTimeout.nanoseconds / 1_000_000_000) s, then the TCP close"
        let close = ProxyClose(reason: .fault,
                               sentToClient: closing.toward.includes(.client) ? frame + tail : "only the TCP close",
                               sentToServer: closing.toward.includes(.server) ? frame + tail : "only the TCP close")
        session.endByFault(close) {
            clientHandler?.closeChannel()
            serverHandler?.closeChannel()
        }
    }

    private func refuse(_ fault: Fault) {
        guard case .refuse(let status, let retryAfter) = fault.action, !passesThrough else { return }
        passesThrough = true
        machine.ended()
        let line = "\(status) \(Self.reasonPhrase(status))"
        note(fault, "answered the upgrade request HTTP \(line)" + (retryAfter.map { " (Retry-After: \($0))" } ?? "")
             + "; the server was never contacted", ended: true, refusal: InjectedFault.Refusal(status: status, retryAfter: retryAfter))
        let close = ProxyClose(reason: .fault, sentToClient: "HTTP \(line) from wsdoctor", sentToServer: "nothing (wsdoctor never connected to it)")
        session.endByFault(close) {
            session.clientHandler?.readWithoutPartner()
            if let client = session.clientHandler?.channel {
                HTTPAnswer.send(line, headers: retryAfter.map { ["Retry-After: \($0)"] } ?? [],
                                body: "wsdoctor: fault \(fault.id): refused on purpose (--faults)\n", to: client)
            }
            serverHandler?.closeChannel()
        }
    }

    /// The 101 without its Sec-WebSocket-Extensions lines.
    private func stripExtensions(_ bytes: [UInt8], fault: Fault) -> [UInt8] {
        guard let end = HostRewriter.endOfHead(bytes) else { return bytes }
        let head = String(decoding: bytes[..<end], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let before = lines.count
        lines.removeAll { $0.lowercased().hasPrefix("sec-websocket-extensions:") }
        note(fault, before == lines.count ? "found no Sec-WebSocket-Extensions in the server's 101 to remove"
                                          : "removed Sec-WebSocket-Extensions from the server's 101")
        return Array(lines.joined(separator: "\r\n").utf8) + bytes[end...]
    }

    // MARK: Reporting

    private func record(_ edit: StreamEditor.Edit, toward side: Side) {
        switch edit {
        case .droppedPing(let id): count(id) { "dropped \($0) ping\($0 == 1 ? "" : "s") toward the \(side)" }
        case .droppedPong(let id): count(id) { "dropped \($0) pong\($0 == 1 ? "" : "s") toward the \(side)" }
        case .corruptedText(let id, let frame):
            if let fault = claimedFault(id) { note(fault, "broke the UTF-8 of a text message toward the \(side) (frame \(frame)), its length unchanged") }
        case .setRSV1(let id, let frame):
            if let fault = claimedFault(id) { note(fault, "set RSV1 on data frame \(frame) toward the \(side)") }
        case .sentClose(let id):
            if let fault = claimedFault(id), case .close(let code, let reason, let toward) = fault.action {
                session.noteInjectedClose(InjectedCloseFrame(toward: side, code: code, reason: reason, at: wallClockNow(), faultID: id))
                let sides = toward == .both ? "the client and the server" : "the \(toward.rawValue)"
                note(fault, "sent a close frame \(code) (\(reason.isEmpty ? CloseCode.name(of: code) : reason)) to \(sides) at a frame boundary", ended: true,
                     closeCodeToClient: toward == .server ? nil : code)
            }
        }
    }

    private func claimedFault(_ id: String) -> Fault? {
        claimed.first { $0.id == id } ?? book.fault(id: id)
    }

    private func count(_ id: String, _ words: (Int) -> String) {
        guard let fault = claimedFault(id) else { return }
        let times = (done[id]?.count ?? 0) + 1
        note(fault, words(times))
        done[id]?.count = times
    }

    /// Reports what a fault did, as wsdoctor's own (a later note replaces the earlier).
    private func note(_ fault: Fault, _ words: String, ended: Bool = false, closeCodeToClient: UInt16? = nil,
                      refusal: InjectedFault.Refusal? = nil) {
        if done[fault.id] == nil { metrics?.faultInjected(fault.action.name) }
        let at = done[fault.id]?.fault.at ?? wallClockNow()
        let injected = InjectedFault(id: fault.id, action: fault.action.name, done: words, at: at,
                                     endedConnection: ended || done[fault.id]?.fault.endedConnection == true,
                                     closeCodeToClient: closeCodeToClient ?? done[fault.id]?.fault.closeCodeToClient,
                                     refusal: refusal ?? done[fault.id]?.fault.refusal)
        done[fault.id] = (injected, done[fault.id]?.count ?? 0)
        session.noteFault(injected)
    }

    /// Whether the connection is upgraded and no fault has ended it.
    var isOpenWebSocket: Bool { machine.isUpgraded && !passesThrough && closing == nil }

    /// Does `fault` to the connection now (the control API); nil when done, else why not.
    func actNow(_ fault: Fault) -> String? {
        if fault.action.actsOnUpgradeOnly { return "`\(fault.action.name)` acts on the upgrade; it cannot be done to an open connection" }
        guard isOpenWebSocket else { return "the connection is not an open WebSocket connection (not upgraded yet, or closing)" }
        claimed.append(fault)
        fire(fault, whileSending: nil)
        return nil
    }

    /// The connection is over: no timer may act on it any more.
    func connectionEnded() {
        machine.ended()
        for timer in timers { timer.cancel() }
        timers = []
    }

    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 408: return "Request Timeout"
        case 429: return "Too Many Requests"
        case 500: return "Internal Server Error"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        default: return status < 500 ? "Client Error" : "Server Error"
        }
    }

    private static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }
}

extension FaultAction.Toward {
    /// "client", "server", or "client and the server".
    var words: String { self == .both ? "client and the server" : rawValue }
}
