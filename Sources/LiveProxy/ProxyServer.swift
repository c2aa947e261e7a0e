import Diagnosis
import FaultInjection
import MetricsReporting
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import PcapRecording
import WebSocketWire

/// Accepts clients, connects each to the upstream, relays both ways and diagnoses every close.
public final class ProxyServer: Sendable {
    public let configuration: ProxyConfiguration
    private let group: MultiThreadedEventLoopGroup
    private let events: any ProxyEvents
    /// One for every event loop: closes are correlated across all connections.
    private let diagnoser: NIOLockedValueBox<Diagnoser>
    private let recorder: CaptureRecorder?
    private let tls: ProxyTLSContexts
    /// Prometheus metrics for the admin endpoint, when one is asked for.
    public let metrics: LiveMetrics?
    private let state = NIOLockedValueBox(State())
    private let limitLog: LimitLog
    private let memoryTrimmer = MemoryTrimmer()

    private struct State {
        var listener: (any Channel)?
        var nextID = 0
        var stopping = false
        /// Open sessions by id, with the event loop each lives on.
        var sessions: [Int: (loop: any EventLoop, session: NIOLoopBound<ProxySession>)] = [:]
    }

    /// - Throws: `TLSSetupError` for an unusable certificate, key or CA file, `RecordingError`
    ///   when the record file cannot be created — before anything listens.
    public init(configuration: ProxyConfiguration, events: any ProxyEvents, metrics: LiveMetrics? = nil,
                threads: Int = System.coreCount) throws {
        self.configuration = configuration
        self.metrics = metrics
        self.events = events
        self.tls = try ProxyTLSContexts(options: configuration.tls, upstreamSecure: configuration.upstream.secure)
        self.recorder = try configuration.recordPath.map { path throws(RecordingError) in try CaptureRecorder(path: path) }
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        self.diagnoser = NIOLockedValueBox(Diagnoser(rules: configuration.rules, order: .ending))
        self.limitLog = LimitLog(events: events)
    }

    /// Binds the listening socket; returns the address actually bound (port 0 picks one).
    public func start() throws -> SocketAddress {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { [metrics, limitLog] listener in
                listener.eventLoop.makeCompletedFuture {
                    // Out of descriptors, accepting pauses 100 ms and tries again (NIO's own
                    // listener would retry at once, spinning), counted and logged.
                    try listener.pipeline.syncOperations.addHandler(AcceptBackoffHandler { _ in .milliseconds(100) })
                    try listener.pipeline.syncOperations.addHandler(AcceptErrorHandler { errno in
                        metrics?.limitHit(.descriptors)
                        limitLog.hit(.descriptors) {
                            "wsdoctor: \(LimitLog.outOfDescriptors(errno)): "
                                + "new clients wait in the listen backlog; accepting again every 100 ms"
                        }
                    })
                }
            }
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.autoRead, value: false)  // until the upstream is connected
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.recvAllocator, value: Self.readSizes)
            .childChannelInitializer { [self] channel in
                Self.peerAddress(of: channel).flatMapThrowing { peer in try self.accept(channel, peer: peer) }
            }
        let listener = try bootstrap.bind(host: configuration.listenHost, port: configuration.listenPort).wait()
        state.withLockedValue { $0.listener = listener }
        guard let address = listener.localAddress else { throw ProxyError.noLocalAddress }
        return address
    }

    /// Resolves when the listener has closed (after `stop()`).
    public var closeFuture: EventLoopFuture<Void>? {
        state.withLockedValue { $0.listener?.closeFuture }
    }

    /// Stops accepting, reports every open connection as still open and closes it.
    public func stop() {
        let (listener, open) = state.withLockedValue { state -> ((any Channel)?, [(any EventLoop, NIOLoopBound<ProxySession>)]) in
            state.stopping = true
            return (state.listener, state.sessions.values.map { ($0.loop, $0.session) })
        }
        for (loop, session) in open {
            loop.execute { session.value.abandon() }
        }
        listener?.close(promise: nil)
    }

    /// Stops accepting; open connections go on being relayed (the drain).
    public func stopAccepting() {
        let listener = state.withLockedValue { state -> (any Channel)? in
            state.stopping = true
            return state.listener
        }
        listener?.close(promise: nil)
    }

    /// Closes every connection still open on wsdoctor's own behalf: 1012 to clients, 1001 to
    /// servers (after the drain timeout).
    public func closeRemainingAsRestart() {
        let open = state.withLockedValue { $0.sessions.values.map { ($0.loop, $0.session) } }
        for (loop, session) in open {
            loop.execute { session.value.closeByProxy() }
        }
    }

    public func shutdown() throws {
        stop()
        try group.syncShutdownGracefully()
        try recorder?.close()
    }

    /// The event loops, for servers that run beside the proxy (the admin endpoint).
    public var eventLoopGroup: any EventLoopGroup { group }

    /// Whether the listener is bound and accepting.
    public var isListening: Bool {
        state.withLockedValue { !$0.stopping && $0.listener?.isActive == true }
    }

    /// What is known so far of every connection still open, in the order they opened, for a
    /// live report. Each copy is taken on its connection's event loop, so this waits for
    /// them: never call it on one.
    public func openConnections() -> [OpenConnection] {
        let open = state.withLockedValue { $0.sessions.values.map { ($0.loop, $0.session) } }
        let copies = open.map { loop, session in loop.submit { session.value.openConnection } }
        return copies.compactMap { try? $0.wait() }.sorted { $0.facts.id < $1.facts.id }
    }

    /// Number of connections being relayed now.
    public var activeConnections: Int {
        state.withLockedValue { $0.sessions.count }
    }

    /// The open connections with the event loop each lives on (for the control API).
    func openSessions() -> [(id: Int, loop: any EventLoop, session: NIOLoopBound<ProxySession>)] {
        state.withLockedValue { $0.sessions.map { (id: $0.key, loop: $0.value.loop, session: $0.value.session) } }
    }

    // MARK: Per connection

    /// The client's address. NIO asks the socket once, at accept; a client that reset its
    /// connection before that has none left for getpeername, but Linux still tells it through
    /// SO_PEERNAME.
    private static func peerAddress(of client: any Channel) -> EventLoopFuture<SocketAddress?> {
        if let known = client.remoteAddress { return client.eventLoop.makeSucceededFuture(known) }
        #if os(Linux)
        guard let provider = client as? any SocketOptionProvider else { return client.eventLoop.makeSucceededFuture(nil) }
        // The kernel refuses a buffer longer than the address, so ask with the listener's family.
        if client.localAddress?.protocol == .inet6 {
            let name: EventLoopFuture<sockaddr_in6> = peerName(provider)
            return name.map { SocketAddress($0) as SocketAddress? }.recover { _ in nil }
        }
        let name: EventLoopFuture<sockaddr_in> = peerName(provider)
        return name.map { SocketAddress($0) as SocketAddress? }.recover { _ in nil }
        #else
        return client.eventLoop.makeSucceededFuture(nil)
        #endif
    }

    #if os(Linux)
    private static func peerName<Address: Sendable>(_ provider: any SocketOptionProvider) -> EventLoopFuture<Address> {
        provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERNAME))
    }
    #endif

    private func accept(_ client: any Channel, peer: SocketAddress?) throws {
        let maxConnections = configuration.limits.maxConnections
        let (id, stopping) = state.withLockedValue { state -> (Int?, Bool) in
            if state.sessions.count >= maxConnections { return (nil, state.stopping) }
            defer { state.nextID += 1 }
            return (state.nextID, state.stopping)
        }
        if stopping {
            client.close(promise: nil)
            return
        }
        guard let id else {
            try refuseOverLimit(client, peer: peer)
            return
        }
        let loop = client.eventLoop
        let clientEndpoint = Self.endpoint(peer)
        let serverEndpoint = Endpoint(address: configuration.upstream.host, port: UInt16(configuration.upstream.port))
        let session = ProxySession(id: id, client: clientEndpoint, server: serverEndpoint, configuration: configuration.analyzer,
                                   showsFramesLive: configuration.showsFramesLive, diagnoser: diagnoser, events: events,
                                   recorder: recorder, metrics: metrics, loop: loop, limits: configuration.limits, limitLog: limitLog) { [state, memoryTrimmer] finished in
            let open = state.withLockedValue { state -> Int in
                state.sessions.removeValue(forKey: finished.id)
                return state.sessions.count
            }
            memoryTrimmer.connectionClosed(open: open, on: loop)
        }
        state.withLockedValue { $0.sessions[id] = (loop, NIOLoopBound(session, eventLoop: loop)) }
        // Also for a client that never became active (its handlers never see it close).
        client.closeFuture.assumeIsolated().whenComplete { _ in session.clientChannelClosed() }
        let upstream = configuration.upstream
        let rewriter = configuration.rewriteHost
            ? HostRewriter(host: (upstream.host.contains(":") ? "[\(upstream.host)]" : upstream.host) + ":\(upstream.port)")
            : nil
        let clientHandler = RelayHandler(side: .client, session: session, hostRewriter: rewriter)
        if let serverTLS = tls.server {
            try client.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: serverTLS))
        }
        let clientFaults = configuration.faults.map { book in
            FaultHandler(side: .client, connection: FaultedConnection(book: book, session: session, loop: loop, metrics: metrics))
        }
        if let clientFaults {
            session.faults = clientFaults.connection
            try client.pipeline.syncOperations.addHandler(clientFaults)
        }
        try client.pipeline.syncOperations.addHandler(clientHandler)
        session.clientHandler = clientHandler
        let serverHandler = RelayHandler(side: .server, session: session)
        session.serverHandler = serverHandler
        // Only a client that became active gets an upstream leg: one closed before (a reset
        // while it waited to be accepted) never costs a connection to the server.
        session.whenClientActive = { [self] in
            guard let clientFaults else {
                connectUpstream(client: client, session: session, clientHandler: clientHandler, serverHandler: serverHandler)
                return
            }
            // With faults, the upstream waits for the request head: a `refuse` must not contact the server.
            session.armHeadTimeout()
            clientFaults.readRequestHead { [self] in
                connectUpstream(client: client, session: session, clientHandler: clientHandler, serverHandler: serverHandler)
            }
        }
    }

    /// Read sizes: NIO's adaptive allocator, grown up to 256 KiB (NIO's default stops at
    /// 64 KiB), as socat's `-b 262144`: a fast stream is read in a quarter of the reads.
    /// Each channel keeps its last read buffer for the next read (NIO's pool), so an idle
    /// connection holds one per leg at the size it last read: starting at 512 bytes rather
    /// than NIO's 2 KiB saves 3 KiB per idle connection, and a fast stream doubles it on
    /// each full read, reaching 256 KiB two reads later than from 2 KiB.
    private static let readSizes = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 256 * 1024)

    /// Connects a client's upstream leg, then pairs the two (or answers the client 502).
    private func connectUpstream(client: any Channel, session: ProxySession, clientHandler: RelayHandler, serverHandler: RelayHandler) {
        let loop = client.eventLoop
        let boundClient = NIOLoopBound(clientHandler, eventLoop: loop)
        let boundServer = NIOLoopBound(serverHandler, eventLoop: loop)
        let boundSession = NIOLoopBound(session, eventLoop: loop)
        let ready = loop.makePromise(of: SocketAddress?.self)
        let upstreamAddress = configuration.upstream
        ClientBootstrap(group: loop)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.recvAllocator, value: Self.readSizes)
            .connectTimeout(.seconds(configuration.connectTimeoutSeconds))
            .channelInitializer { [tls] upstream in
                upstream.eventLoop.makeCompletedFuture {
                    boundSession.value.upstreamChannel = upstream
                    let operations = upstream.pipeline.syncOperations
                    if let clientTLS = tls.client {
                        // SNI carries names only, never addresses.
                        let name = upstreamAddress.host.isIPAddress ? nil : upstreamAddress.host
                        try operations.addHandler(NIOSSLClientHandler(context: clientTLS, serverHostname: name))
                    }
                    try operations.addHandler(UpstreamReadyHandler(ready: ready, waitsForTLS: tls.client != nil))
                    if let faults = boundSession.value.faults {
                        try operations.addHandler(FaultHandler(side: .server, connection: faults))
                    }
                    try operations.addHandler(boundServer.value)
                }
            }
            .connect(host: configuration.upstream.host, port: configuration.upstream.port)
            .whenFailure { ready.fail($0) }
        ready.futureResult.assumeIsolated().whenComplete { result in
            let session = boundSession.value
            switch result {
            case .success(let address):
                switch session.upstreamBecameReady() {
                case .pair:
                    session.upstreamReady(at: address.map(Self.endpoint))
                    RelayHandler.pair(boundClient.value, boundServer.value)
                    session.armHeadTimeout()
                    // The client waited unread until there was somewhere to send its bytes.
                    client.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in client.close(promise: nil) }
                case .closeUpstream:
                    session.upstreamChannel?.close(promise: nil)
                }
            case .failure(let error):
                switch session.upstreamDidFail() {
                case .refuseClient:
                    boundClient.value.readWithoutPartner()
                    client.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
                    if let code = Self.descriptorsRanOut(error) {
                        session.upstreamOutOfDescriptors(errno: code)
                    } else {
                        Self.refuse(client, reason: Self.describe(error), upstream: upstreamAddress)
                        session.upstreamFailed(Self.describe(error))
                    }
                case .none:
                    break
                }
            }
        }
    }

    /// Answers a client whose upstream could not be reached with a one-line 502.
    private static func refuse(_ client: any Channel, reason: String, upstream: UpstreamAddress) {
        HTTPAnswer.send("502 Bad Gateway", body: "wsdoctor: cannot reach upstream \(upstream): \(reason)\n", to: client)
    }

    /// Answers a client past `--max-connections` with 503 and Retry-After, without a session
    /// or an upstream leg (TLS first, when the proxy terminates it); counted and logged.
    private func refuseOverLimit(_ client: any Channel, peer: SocketAddress?) throws {
        let limits = configuration.limits
        metrics?.limitHit(.maxConnections)
        limitLog.hit(.maxConnections) {
            "wsdoctor: --max-connections \(limits.maxConnections) reached: client \(Self.endpoint(peer)) answered 503 (Retry-After: \(limits.retryAfterSeconds))"
        }
        if let serverTLS = tls.server {
            try client.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: serverTLS))
        }
        try client.pipeline.syncOperations.addHandler(DiscardingReader())
        HTTPAnswer.send("503 Service Unavailable", headers: ["Retry-After: \(limits.retryAfterSeconds)"],
                        body: "wsdoctor: too many connections (--max-connections \(limits.maxConnections)); try again later\n", to: client)
        client.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
    }

    /// EMFILE or ENFILE when connecting failed because wsdoctor had no descriptor left for
    /// the socket (NIO's happy-eyeballs connector wraps it in its connection error).
    private static func descriptorsRanOut(_ error: any Error) -> Int32? {
        let errors = (error as? NIOConnectionError)?.connectionErrors.map(\.error) ?? [error]
        return errors.lazy.compactMap { ($0 as? IOError)?.errnoCode }.first { $0 == EMFILE || $0 == ENFILE }
    }

    static func describe(_ error: any Error) -> String {
        if let connect = error as? NIOConnectionError {
            let reasons = connect.connectionErrors.map { "\($0.error)" }
            if let dns = connect.dnsAError ?? connect.dnsAAAAError, reasons.isEmpty { return "name not resolved (\(dns))" }
            return reasons.first.map { $0.contains("refused") ? "connection refused" : $0 } ?? "\(error)"
        }
        if error is ChannelError, "\(error)".contains("connectTimeout") { return "connection timed out" }
        if let tls = error as? NIOSSLError { return "TLS handshake with the upstream failed: \(tls)" }
        if let tls = error as? BoringSSLError { return "TLS handshake with the upstream failed: \(tls)" }
        return "\(error)"
    }

    static func endpoint(_ address: SocketAddress?) -> Endpoint {
        Endpoint(address: address?.ipAddress ?? "unknown", port: UInt16(clamping: address?.port ?? 0))
    }
}

/// Errors starting the proxy.
public struct ProxyError: Error, CustomStringConvertible, Sendable {
    private enum Kind: Sendable { case noLocalAddress }
    private let kind: Kind

    static let noLocalAddress = ProxyError(kind: .noLocalAddress)

    public var description: String {
        switch kind {
        case .noLocalAddress: return "the listening socket has no local address"
        }
    }
}

extension String {
    /// Whether this is a literal IPv4 or IPv6 address rather than a name.
    var isIPAddress: Bool {
        (try? SocketAddress(ipAddress: self, port: 0)) != nil
    }
}

