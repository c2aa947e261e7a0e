import FaultInjection
import NIOCore
import WebSocketWire

/// Passes the bytes the relay writes toward `side` through the connection's faults, and
/// holds this side's reads when a fault stalls what it sends.
///
/// Sits in a channel's pipeline just below the `RelayHandler`, and only when faults are
/// configured (`--faults`, `--control`): without them the relay's path is untouched.
/// Latency holds at most `maxDelayedBytes` before the sending side's reads pause.
final class FaultHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The peer this channel leads to.
    let side: Side
    let connection: FaultedConnection
    private var context: ChannelHandlerContext?

    /// Bytes held back by `latency` before the other side's reads pause: 1 MiB, a few
    /// hundred milliseconds of a busy connection, so the delay stays a delay and not a buffer.
    static let maxDelayedBytes = 1 << 20

    init(side: Side, connection: FaultedConnection) {
        self.side = side
        self.connection = connection
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if side == .client { connection.clientHandler = self } else { connection.serverHandler = self }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.connectionEnded()
        context.fireChannelInactive()
    }

    // MARK: The client's first request head, before the upstream exists

    /// The client's bytes read while its first request head is matched (at most the decoder's
    /// head bound plus one read), before the upstream leg is connected.
    private var heldBeforeUpstream: [ByteBuffer] = []
    /// Connects the upstream leg; set while the head is being read.
    private var connectUpstream: (() -> Void)?

    /// Reads the client's first request head before anything is connected upstream, so that a
    /// `refuse` never contacts the server; `connect` runs once the head is known not refused.
    func readRequestHead(then connect: @escaping () -> Void) {
        guard let context else { return }
        connectUpstream = connect
        context.read()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard connectUpstream != nil else {
            context.fireChannelRead(data)
            return
        }
        let buffer = unwrapInboundIn(data)
        heldBeforeUpstream.append(buffer)
        switch connection.requestBytesBeforeUpstream(buffer) {
        case .needMore:
            break
        case .forward:
            releaseRequestHead(context: context)
        case .refused:
            connectUpstream = nil
            let held = heldBeforeUpstream
            heldBeforeUpstream = []
            connection.refuseBeforeUpstream(held)
            // The client is read out until it closes, as for wsdoctor's other HTTP answers.
            context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
        case .ended:
            // Answered already (408): what the client sends is read out and dropped.
            connectUpstream = nil
            heldBeforeUpstream = []
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // Reads stay off until the legs are paired: this handler asks for each one itself.
        if connectUpstream != nil { context.read() }
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if connectUpstream != nil, let event = event as? ChannelEvent, event == .inputClosed {
            // The client ended before its head did: nothing to match, relay what came.
            releaseRequestHead(context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Passes the held bytes on to the relay (which holds them until the legs are paired)
    /// and connects the upstream.
    private func releaseRequestHead(context: ChannelHandlerContext) {
        guard let connect = connectUpstream else { return }
        connectUpstream = nil
        let held = heldBeforeUpstream
        heldBeforeUpstream = []
        for buffer in held { context.fireChannelRead(wrapInboundOut(buffer)) }
        connect()
    }

    // MARK: Toward this side

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !connection.passesThrough else {
            context.write(data, promise: promise)
            return
        }
        let buffer = unwrapOutboundIn(data)
        let bytes = connection.bytes(toward: side, Array(buffer.readableBytesView))
        guard !bytes.isEmpty else {
            promise?.succeed()
            return
        }
        send(context.channel.allocator.buffer(bytes: bytes), context: context, promise: promise)
    }

    /// wsdoctor's own bytes (a close frame), sent at once.
    func sendOwn(_ bytes: [UInt8]) {
        guard let context else { return }
        send(context.channel.allocator.buffer(bytes: bytes), context: context, promise: nil)
        context.flush()
    }

    private func send(_ buffer: ByteBuffer, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        guard let latency else {
            context.write(wrapOutboundOut(buffer), promise: promise)
            return
        }
        delayed.append((NIODeadline.now() + latency, buffer, promise))
        delayedBytes += buffer.readableBytes
        if delayedBytes > Self.maxDelayedBytes, !pausedPeerForLatency {
            pausedPeerForLatency = true
            peer?.pauseReads()
        }
        context.eventLoop.assumeIsolated().scheduleTask(deadline: NIODeadline.now() + latency) { [self] in releaseDelayed() }
    }

    // MARK: Latency

    /// Set by a `latency` fault: every chunk toward this side waits this long.
    var latency: TimeAmount?
    private var delayed: [(due: NIODeadline, buffer: ByteBuffer, promise: EventLoopPromise<Void>?)] = []
    private var delayedBytes = 0
    private var pausedPeerForLatency = false
    /// A half-close asked for while bytes were still delayed: done once they are out.
    private var delayedOutputClose: EventLoopPromise<Void>??

    private var peer: FaultHandler? { side == .client ? connection.serverHandler : connection.clientHandler }

    /// Writes, in order, every delayed chunk that is due.
    private func releaseDelayed() {
        guard let context else { return }
        let now = NIODeadline.now()
        var released = 0
        while released < delayed.count, delayed[released].due <= now {
            let entry = delayed[released]
            delayedBytes -= entry.buffer.readableBytes
            context.write(wrapOutboundOut(entry.buffer), promise: entry.promise)
            released += 1
        }
        guard released > 0 else { return }
        delayed.removeFirst(released)
        context.flush()
        if pausedPeerForLatency, delayedBytes <= Self.maxDelayedBytes / 2 {
            pausedPeerForLatency = false
            peer?.resumeReads()
        }
        if delayed.isEmpty, let promise = delayedOutputClose {
            delayedOutputClose = nil
            context.close(mode: .output, promise: promise)
        }
    }

    func flush(context: ChannelHandlerContext) {
        context.flush()
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .output, !delayed.isEmpty {
            delayedOutputClose = .some(promise)
            return
        }
        context.close(mode: mode, promise: promise)
    }

    // MARK: This side's reads

    private var readPauses = 0
    private var readWaiting = false

    func read(context: ChannelHandlerContext) {
        if readPauses > 0 { readWaiting = true } else { context.read() }
    }

    /// Stops reading this side: what it sends waits in the kernel (a stall, or latency's bound).
    func pauseReads() {
        readPauses += 1
    }

    func resumeReads() {
        readPauses = max(0, readPauses - 1)
        if readPauses == 0, readWaiting, let context {
            readWaiting = false
            context.read()
        }
    }

    // MARK: Ending

    func closeChannel() {
        guard let context else { return }
        context.flush()
        context.close(promise: nil)
    }
}
