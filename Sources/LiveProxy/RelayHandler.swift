import NIOCore
import NIOPosix
import WebSocketWire

/// Relays one side's bytes to its partner unchanged, as soon as they arrive, and shows
/// them to the session afterwards.
///
/// One handler sits in each of a connection's two channels (client side and server side);
/// both channels share an event loop. Reading from a side waits while the partner cannot
/// take more (backpressure: at most the partner's write-buffer high water mark, 64 KiB by
/// default, plus one read of at most 256 KiB is buffered per direction). A FIN becomes a
/// half-close of the partner's output; a reset becomes a reset of the partner.
final class RelayHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let side: Side
    let session: ProxySession
    private var partner: RelayHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private var inputClosed = false
    private var outputClosed = false

    /// Rewrites Host headers on their way to the server (`--rewrite-host`), if asked.
    private var hostRewriter: HostRewriter?

    init(side: Side, session: ProxySession, hostRewriter: HostRewriter? = nil) {
        self.side = side
        self.session = session
        self.hostRewriter = hostRewriter
    }

    /// Bytes (and an end of input) that arrived before the partner was ready for them.
    private var held: [ByteBuffer] = []
    private var heldEndOfInput = false

    /// Pairs two handlers once both channels are ready; call on their shared event loop.
    /// Whatever either side sent before is passed on now, in order.
    static func pair(_ first: RelayHandler, _ second: RelayHandler) {
        first.partner = second
        second.partner = first
        first.releaseHeld()
        second.releaseHeld()
    }

    private func releaseHeld() {
        let buffers = held
        held = []
        for buffer in buffers { forward(buffer) }
        if !buffers.isEmpty { partner?.partnerFlush() }
        if heldEndOfInput {
            heldEndOfInput = false
            endOfInput()
        }
        // A read asked for before there was a partner can go ahead now.
        if pendingRead, partnerWritable {
            pendingRead = false
            context?.read()
        }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        writable = context.channel.isWritable
    }

    /// This channel's writability, kept as it changes so the read path need not ask the channel.
    private var writable = true

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if hostRewriter != nil {
            buffer = hostRewriter!.process(buffer, allocator: context.channel.allocator)
            if buffer.readableBytes == 0 { return }
        }
        if readsWithoutPartner { return }
        guard partner != nil else {
            // Bounded: reads stay off until the partner exists, except for what the kernel
            // hands over with an end of file.
            held.append(buffer)
            return
        }
        forward(buffer)
    }

    /// Forwards first, untouched; analyses the same bytes after. With faults, analyses first:
    /// a fault acting on these bytes as they are written (a refused upgrade) ends the session,
    /// and its report must still hold them (the request, its client, its path).
    private func forward(_ buffer: ByteBuffer) {
        if session.faults != nil { session.received(buffer, from: side) }
        partner?.partnerWrite(buffer)
        if session.faults == nil { session.received(buffer, from: side) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.partnerFlush()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            inputClosed = true
            if readsWithoutPartner {
                context.close(promise: nil)
            } else if partner == nil {
                heldEndOfInput = true
            } else {
                endOfInput()
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func endOfInput() {
        session.ended(side, .fin)
        partner?.partnerCloseOutput()
        closeIfDone()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let io = error as? IOError, io.errnoCode == ECONNRESET || io.errnoCode == EPIPE {
            session.ended(side, .rst)
            partner?.partnerReset()
        } else {
            session.abandon()
            partner?.partnerClose()
        }
        context.close(promise: nil)
    }

    func channelActive(context: ChannelHandlerContext) {
        if side == .client { session.clientBecameActive() }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Closed without FIN or error seen (e.g. the proxy closed it): end the partner too.
        if !inputClosed { session.ended(side, .fin) }
        partner?.partnerClose()
        if side == .client { session.clientChannelClosed() }
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        writable = context.channel.isWritable
        if writable { partner?.partnerBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    // MARK: Outbound

    /// Sends wsdoctor's own bytes (a close frame) to this side, then closes it. Used when the
    /// proxy shuts down; the partner is detached first so it is closed the same way.
    func sendOwnBytesAndClose(_ bytes: [UInt8]?) {
        partner?.partner = nil
        partner = nil
        guard let context else { return }
        if let bytes {
            let buffer = context.channel.allocator.buffer(bytes: bytes)
            context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { [context] _ in
                context.close(promise: nil)
            }
        } else {
            context.close(promise: nil)
        }
    }

    /// This side's channel, while the handler is in it.
    var channel: (any Channel)? { context?.channel }

    /// Reads with no partner: the connection is being refused, and a TLS handshake
    /// with the client must still complete for the refusal to reach it.
    func readWithoutPartner() {
        // The partner's channel is going away; it must not take this one with it.
        partner?.partner = nil
        partner = nil
        readsWithoutPartner = true
        if pendingRead {
            pendingRead = false
            context?.read()
        }
    }

    private var readsWithoutPartner = false

    func read(context: ChannelHandlerContext) {
        // The server side reads before it is paired: a TLS handshake to the upstream needs
        // it, and what arrives meanwhile is held (pairing follows at once).
        let unpairedServer = partner == nil && side == .server
        if readsWithoutPartner || unpairedServer || partner?.partnerWritableNow ?? false {
            context.read()
        } else {
            pendingRead = true
        }
    }

    // MARK: Called by the partner

    private func partnerWrite(_ buffer: ByteBuffer) {
        context?.write(wrapOutboundOut(buffer), promise: nil)
    }

    private func partnerFlush() {
        context?.flush()
    }

    private var partnerWritableNow: Bool {
        context != nil && writable
    }

    /// Whether this handler's partner can take bytes now.
    private var partnerWritable: Bool {
        partner?.partnerWritableNow ?? false
    }

    private func partnerBecameWritable() {
        if pendingRead {
            pendingRead = false
            context?.read()
        }
    }

    private func partnerCloseOutput() {
        guard let context, !outputClosed else { return }
        outputClosed = true
        context.flush()
        context.close(mode: .output, promise: nil)
        closeIfDone()
    }

    /// Resets this side's TCP connection (also a fault's `reset`).
    func partnerReset() {
        guard let context else { return }
        // SO_LINGER 0 makes close() send RST instead of FIN.
        if let provider = context.channel as? any SocketOptionProvider {
            provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).assumeIsolated().whenComplete { [context] _ in
                context.close(promise: nil)
            }
        } else {
            context.close(promise: nil)
        }
    }

    private func partnerClose() {
        context?.close(promise: nil)
    }

    /// Both directions have finished: nothing more can pass.
    private func closeIfDone() {
        if inputClosed && outputClosed { context?.close(promise: nil) }
    }
}
