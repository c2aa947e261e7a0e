import NIOCore
import NIOPosix
import WebSocketWire

/// Relays one side's bytes to its partner unchanged, as soon as they arrive, and shows
/// them to the session afterwards.
///
/// One handler sits in each of a connection's two channels (client side and server side);
/// both channels share an event loop. Reading from a side waits while the partner cannot
/// take more (backpressure: at most the partner's write-buffer high water mark, 64 KiB by
/// default, plus one read is buffered per direction). A FIN becomes a half-close of the
/// partner's output; a reset becomes a reset of the partner.
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

    /// Pairs two handlers; call on their shared event loop.
    static func pair(_ first: RelayHandler, _ second: RelayHandler) {
        first.partner = second
        second.partner = first
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

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
        // Forward first, untouched; analyse the same bytes after.
        partner?.partnerWrite(buffer)
        session.received(buffer, from: side)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.partnerFlush()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            inputClosed = true
            session.ended(side, .fin)
            partner?.partnerCloseOutput()
            closeIfDone()
            return
        }
        context.fireUserInboundEventTriggered(event)
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

    func channelInactive(context: ChannelHandlerContext) {
        // Closed without FIN or error seen (e.g. the proxy closed it): end the partner too.
        if !inputClosed { session.ended(side, .fin) }
        partner?.partnerClose()
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.partnerBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    // MARK: Outbound

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
        if readsWithoutPartner || partner?.partnerWritable ?? false {
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

    private var partnerWritable: Bool {
        context?.channel.isWritable ?? false
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

    private func partnerReset() {
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
