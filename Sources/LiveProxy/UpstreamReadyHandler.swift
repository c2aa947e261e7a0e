import NIOCore
import NIOTLS

/// Tells when the upstream is ready for the client's bytes: at once for plain TCP, after
/// the TLS handshake for `wss://`; fails with why the handshake did not complete.
final class UpstreamReadyHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let ready: EventLoopPromise<SocketAddress?>
    private let waitsForTLS: Bool
    private var settled = false

    init(ready: EventLoopPromise<SocketAddress?>, waitsForTLS: Bool) {
        self.ready = ready
        self.waitsForTLS = waitsForTLS
    }

    func channelActive(context: ChannelHandlerContext) {
        if !waitsForTLS { settle(context, nil) }
        context.fireChannelActive()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if !waitsForTLS && context.channel.isActive { settle(context, nil) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent { settle(context, nil) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !settled {
            settle(context, error)
            context.close(promise: nil)
            return
        }
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !settled { settle(context, ChannelError.ioOnClosedChannel) }
        context.fireChannelInactive()
    }

    private func settle(_ context: ChannelHandlerContext, _ error: (any Error)?) {
        guard !settled else { return }
        settled = true
        if let error { ready.fail(error) } else { ready.succeed(context.channel.remoteAddress) }
        context.pipeline.syncOperations.removeHandler(self, promise: nil)
    }
}
