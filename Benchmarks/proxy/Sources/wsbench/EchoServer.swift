import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// Echoes every data frame as it arrives (same opcode and FIN bit, unmasked, as a server
/// must send), answers pings, and answers a close with a close, then closes the connection.
final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private var closeSent = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .binary, .text, .continuation:
            guard !closeSent else { return }
            context.write(wrapOutboundOut(WebSocketFrame(fin: frame.fin, opcode: frame.opcode, data: unmasked(frame))),
                          promise: nil)
        case .ping:
            guard !closeSent else { return }
            context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: unmasked(frame))), promise: nil)
        case .connectionClose:
            if closeSent {
                context.close(promise: nil)
                return
            }
            closeSent = true
            var body = unmasked(frame)
            if body.readableBytes > 2 { body = body.getSlice(at: body.readerIndex, length: 2)! }
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: body)))
                .whenComplete { _ in channel.close(promise: nil) }
        default:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func unmasked(_ frame: WebSocketFrame) -> ByteBuffer {
        var data = frame.data
        if let key = frame.maskKey {
            data.withUnsafeMutableReadableBytes { applyMask($0, key: key) }
        }
        return data
    }
}

enum EchoServer {
    static func run(host: String, port: Int, threads: Int) throws -> Never {
        raiseOpenFileLimit()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let upgrader = NIOWebSocketServerUpgrader(
            maxFrameSize: maxFrameSize, automaticErrorHandling: true,
            shouldUpgrade: { channel, _ in channel.eventLoop.makeSucceededFuture(HTTPHeaders()) },
            upgradePipelineHandler: { channel, _ in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(EchoHandler())
                }
            })
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
                }
            }
        let listener = try bootstrap.bind(host: host, port: port).wait()
        let bound = listener.localAddress?.port ?? port
        say("wsbench echo-server listening on \(host):\(bound) (\(threads) threads)")
        try listener.closeFuture.wait()
        exit(0)
    }
}
