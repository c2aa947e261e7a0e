import Diagnosis
import MetricsReporting
import NIOConcurrencyHelpers
import NIOCore
import PcapRecording
import WebSocketWire

/// One client connection through the proxy: its analyzer and how far each side has ended.
///
/// Lives on the event loop both of its channels share; never touched from elsewhere.
final class ProxySession {
    enum End { case fin, rst }

    let id: Int
    private(set) var analyzer: ConnectionAnalyzer
    private let diagnoser: NIOLockedValueBox<Diagnoser>
    private let ticket: Diagnoser.Ticket
    private let events: any ProxyEvents
    private let onFinish: (ProxySession) -> Void
    private let recorder: CaptureRecorder?
    private let metrics: LiveMetrics?
    /// Frames are handed to the events as they are decoded (`--frames`).
    private let showsFramesLive: Bool
    private var reportedOpen = false
    private(set) var isFinished = false
    private var clientEnded = false
    private var serverEnded = false

    private let loop: any EventLoop
    private let limits: ProxyLimits
    private let limitLog: LimitLog
    /// Armed while a limit's clock runs: the client's request head, the upstream's answer.
    private var headTimer: Scheduled<Void>?
    private var upgradeTimer: Scheduled<Void>?

    init(id: Int, client: Endpoint, server: Endpoint, configuration: AnalyzerConfiguration, showsFramesLive: Bool,
         diagnoser: NIOLockedValueBox<Diagnoser>, events: any ProxyEvents, recorder: CaptureRecorder?, metrics: LiveMetrics?, loop: any EventLoop, limits: ProxyLimits,
         limitLog: LimitLog, onFinish: @escaping (ProxySession) -> Void) {
        self.id = id
        self.loop = loop
        self.limits = limits
        self.limitLog = limitLog
        let now = wallClockNow()
        let facts = ConnectionFacts(id: id, client: client, server: server, opened: now, sawTCPOpen: true, sidesGuessed: false)
        self.analyzer = ConnectionAnalyzer(facts: facts, configuration: configuration)
        self.recorder = recorder
        self.metrics = metrics
        metrics?.opened()
        metrics?.connectionStateMade()
        self.showsFramesLive = configuration.recordTimeline && showsFramesLive
        self.diagnoser = diagnoser
        self.ticket = diagnoser.withLockedValue { $0.opened() }
        self.events = events
        self.onFinish = onFinish
    }

    deinit {
        // Counted to show that a finished connection's state is given back, not kept.
        metrics?.connectionStateFreed()
    }

    private var closingByProxy = false

    /// What is known so far, for a live report (nil once finished: its report is on the way).
    var openConnection: OpenConnection? {
        isFinished ? nil : OpenConnection(analyzer)
    }

    /// The relay handlers of the two legs, for closing on the proxy's own behalf.
    weak var clientHandler: RelayHandler?
    weak var serverHandler: RelayHandler?

    /// The proxy is shutting down after its drain timeout: close frames 1012 to the client and
    /// 1001 to the server where each stream sits between frames (a frame cut in half would be
    /// worse than none), then TCP; reported as wsdoctor's own close, saying what each side got.
    func closeByProxy() {
        guard !isFinished else { return }
        let established = analyzer.facts.carriesWebSocket
        let toClient = established && analyzer.isBetweenFrames(from: .server)
            ? Self.closeFrame(code: 1012, reason: "service restart", masked: false) : nil
        let toServer = established && analyzer.isBetweenFrames(from: .client)
            ? Self.closeFrame(code: 1001, reason: "going away", masked: true) : nil
        let close = ProxyClose(reason: .shutdown,
                               sentToClient: toClient == nil ? Self.onlyTCP(established: established, midFrameFrom: .server)
                                                             : "a close frame 1012 (service restart)",
                               sentToServer: toServer == nil ? Self.onlyTCP(established: established, midFrameFrom: .client)
                                                             : "a close frame 1001 (going away)")
        end(close) {
            clientHandler?.sendOwnBytesAndClose(toClient)
            serverHandler?.sendOwnBytesAndClose(toServer)
        }
    }

    /// The connection's faults (`--faults`), when any are configured.
    var faults: FaultedConnection?

    /// A fault did something to the connection: reported as wsdoctor's own.
    func noteFault(_ fault: InjectedFault) {
        analyzer.noteFault(fault)
    }

    /// A fault sent a close frame to one side: that side's close frame will be its answer.
    func noteInjectedClose(_ frame: InjectedCloseFrame) {
        analyzer.noteInjectedClose(frame)
    }

    /// A fault ends the connection on wsdoctor's own behalf: `close` is what the report says,
    /// `act` closes the channels.
    func endByFault(_ close: ProxyClose, _ act: () -> Void) {
        guard !isFinished else { return }
        _ = upstreamLeg.clientClosed()
        end(close, act)
    }

    /// What a side got when no close frame could be sent it.
    private static func onlyTCP(established: Bool, midFrameFrom side: Side) -> String {
        established ? "only the TCP close, no close frame (the \(side.rawValue)'s last frame to it was unfinished, and a close frame would have corrupted it)"
                    : "only the TCP close (no WebSocket session yet)"
    }

    /// Ends the connection on wsdoctor's own behalf: `close` is what the report says, `act`
    /// what is done to the channels.
    private func end(_ close: ProxyClose, _ act: () -> Void) {
        // The channels closing in `act` must not be taken for the peers' own FINs.
        closingByProxy = true
        act()
        analyzer.noteClosedByProxy(close, at: wallClockNow())
        finish()
    }

    /// A close frame; masked as a client must mask (RFC 6455 §5.3) when sent to the server.
    static func closeFrame(code: UInt16, reason: String, masked: Bool) -> [UInt8] {
        var payload = [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8.prefix(123))
        var frame: [UInt8] = [0x88, UInt8(payload.count) | (masked ? 0x80 : 0)]
        if masked {
            let key = (0..<4).map { _ in UInt8.random(in: 0...255) }
            frame += key
            for index in payload.indices { payload[index] ^= key[index % 4] }
        }
        return frame + payload
    }

    private var upstreamLeg = UpstreamLegStateMachine()
    /// Starts connecting the upstream leg; run once, when the client's channel becomes active.
    var whenClientActive: (() -> Void)?

    func clientBecameActive() {
        let start = whenClientActive
        whenClientActive = nil
        start?()
    }

    /// The upstream leg's channel once it exists, to close it if the client goes first.
    var upstreamChannel: (any Channel)?

    /// The client's channel closed. Before the upstream was ready, the upstream leg is closed
    /// (or its connecting aborted) at once and the session ends: nobody is left to relay to.
    func clientChannelClosed() {
        whenClientActive = nil
        switch upstreamLeg.clientClosed() {
        case .closeUpstream:
            // Finished first: the upstream's close is wsdoctor's doing, not the server's FIN.
            finish()
            upstreamChannel?.close(promise: nil)
        case .none:
            break
        }
    }

    /// The upstream is ready; whether to pair the legs or close the upstream's.
    func upstreamBecameReady() -> UpstreamLegStateMachine.UpstreamReadyAction {
        upstreamLeg.upstreamReady()
    }

    /// The upstream could not be reached; whether the client is still there to be told.
    func upstreamDidFail() -> UpstreamLegStateMachine.UpstreamFailedAction {
        upstreamLeg.upstreamFailed()
    }

    /// The upstream accepted (and finished TLS): from now on bytes flow. `address` is the
    /// server's actual address, which replaces a host name in the facts and the recording.
    func upstreamReady(at address: Endpoint?) {
        if let address { analyzer.setServerEndpoint(address) }
        let facts = analyzer.facts
        recorder?.opened(connection: id, client: facts.client, server: facts.server, at: facts.opened)
    }

    /// Analyses bytes that have already been forwarded.
    func received(_ buffer: ByteBuffer, from side: Side) {
        guard !isFinished else { return }
        let now = wallClockNow()
        metrics?.relayed(buffer.readableBytes, from: side)
        buffer.withUnsafeReadableBytes { bytes in
            recorder?.data(connection: id, from: side, bytes: bytes, at: now)
            analyzer.received(bytes, from: side, at: now)
        }
        if headTimer != nil || upgradeTimer != nil { checkLimitClocks() }
        if !reportedOpen, analyzer.facts.handshake?.status != nil {
            reportedOpen = true
            events.connectionOpened(analyzer.facts)
        }
        if showsFramesLive {
            let entries = analyzer.drainTimeline()
            if !entries.isEmpty { events.connectionEvents(analyzer.facts, entries) }
        }
    }

    // MARK: The proxy's own limits

    /// Starts the client's clock for its first request head (`--head-timeout`), once the
    /// upstream is connected and the client is read (with faults, as soon as the client is read).
    func armHeadTimeout() {
        guard let seconds = limits.headTimeout, headTimer == nil, !isHeadComplete else { return }
        headTimer = loop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(seconds * 1e9))) { [self] in headTimedOut() }
    }

    private var isHeadComplete: Bool {
        analyzer.facts.handshake != nil || analyzer.facts.httpRequestsBeforeUpgrade > 0 || faults?.requestHeadRead == true
    }

    /// Stops a clock whose wait is over, and starts the upstream's once an upgrade request
    /// was relayed.
    private func checkLimitClocks() {
        if headTimer != nil, isHeadComplete {
            headTimer?.cancel()
            headTimer = nil
            if let seconds = limits.upgradeTimeout, let handshake = analyzer.facts.handshake, handshake.status == nil {
                upgradeTimer = loop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(seconds * 1e9))) { [self] in upgradeTimedOut() }
            }
        }
        if upgradeTimer != nil, analyzer.facts.handshake?.status != nil {
            upgradeTimer?.cancel()
            upgradeTimer = nil
        }
    }

    private func headTimedOut() {
        headTimer = nil
        guard !isFinished, !isHeadComplete, let seconds = limits.headTimeout else { return }
        let client = analyzer.facts.client
        closeForLimit(.headTimeout, reason: .headTimeout, status: "408 Request Timeout",
                      body: "wsdoctor: the request head did not arrive within \(seconds) s (--head-timeout)\n") {
            "wsdoctor: --head-timeout \(seconds) s: client \(client) had not sent a complete request head; answered 408 and closed"
        }
    }

    private func upgradeTimedOut() {
        upgradeTimer = nil
        guard !isFinished, analyzer.facts.handshake?.status == nil, let seconds = limits.upgradeTimeout else { return }
        let client = analyzer.facts.client, server = analyzer.facts.server
        closeForLimit(.upgradeTimeout, reason: .upgradeTimeout, status: "504 Gateway Timeout",
                      body: "wsdoctor: the upstream did not answer the upgrade within \(seconds) s (--upgrade-timeout)\n") {
            "wsdoctor: --upgrade-timeout \(seconds) s: upstream \(server) had not answered the upgrade of client \(client); answered 504 and closed"
        }
    }

    /// Connecting the upstream failed for want of a descriptor (EMFILE, ENFILE): wsdoctor's own
    /// limit, not the server's doing, so no 502 naming it; the client gets 503 with Retry-After.
    func upstreamOutOfDescriptors(errno code: Int32) {
        let client = analyzer.facts.client
        closeForLimit(.descriptors, reason: .outOfDescriptors, status: "503 Service Unavailable", headers: ["Retry-After: \(limits.retryAfterSeconds)"],
                      body: "wsdoctor: out of descriptors, could not connect to the upstream; try again later\n",
                      sentToServer: "nothing (wsdoctor had no descriptor left to connect to it)") {
            "wsdoctor: \(LimitLog.outOfDescriptors(code)): could not connect to the upstream for client \(client); answered 503"
        }
    }

    /// Answers the client wsdoctor's own HTTP status, closes the upstream leg, and reports it.
    /// An answer is added only where the server has sent nothing yet: after bytes of its own
    /// it would corrupt what the client reads.
    private func closeForLimit(_ limit: ProxyLimit, reason: ProxyClose.Reason, status: String, headers: [String] = [], body: String,
                               sentToServer: String = "only the TCP close", line: () -> String) {
        metrics?.limitHit(limit)
        limitLog.hit(limit, at: reason.rawValue, line)
        let answered = analyzer.facts.fromServer.bytes == 0
        let close = ProxyClose(reason: reason, sentToClient: answered ? "HTTP \(status)" : "only the TCP close (the server had sent bytes already)",
                               sentToServer: sentToServer)
        end(close) {
            _ = upstreamLeg.clientClosed()
            let client = clientHandler?.channel
            clientHandler?.readWithoutPartner()
            if let client {
                if answered { HTTPAnswer.send(status, headers: headers, body: body, to: client) } else { client.close(promise: nil) }
            }
            serverHandler?.sendOwnBytesAndClose(nil)
            upstreamChannel?.close(promise: nil)
        }
    }

    func ended(_ side: Side, _ how: End) {
        guard !isFinished, !closingByProxy else { return }
        let now = wallClockNow()
        switch how {
        case .fin:
            if side == .client { clientEnded = true } else { serverEnded = true }
            recorder?.finished(connection: id, from: side, at: now)
            analyzer.finished(from: side, at: now)
        case .rst:
            clientEnded = true
            serverEnded = true
            recorder?.reset(connection: id, from: side, at: now)
            analyzer.reset(from: side, at: now)
        }
        if clientEnded && serverEnded { finish() }
    }

    /// The server could not be reached for this client.
    func upstreamFailed(_ reason: String) {
        analyzer.noteUpstreamFailure(reason, at: wallClockNow())
        finish()
    }

    /// The proxy is stopping with this connection still open, or a channel went away.
    func abandon() {
        guard !isFinished else { return }
        analyzer.sourceEnded(at: wallClockNow())
        finish()
    }

    private func finish() {
        guard !isFinished else { return }
        isFinished = true
        headTimer?.cancel()
        upgradeTimer?.cancel()
        headTimer = nil
        upgradeTimer = nil
        if !analyzer.isFinished { analyzer.sourceEnded(at: wallClockNow()) }
        // Everything behind the proxy is aimed at a WebSocket server, so the Diagnoser
        // reports all but plain HTTP exchanges that went well.
        let reports = diagnoser.withLockedValue { [analyzer, ticket] in $0.ended(ticket, analyzer, toWebSocketServer: true) }
        if reports.isEmpty { metrics?.closedUnreported() }
        for finished in reports {
            metrics?.closed(finished)
            events.connectionClosed(finished)
        }
        onFinish(self)
    }
}
