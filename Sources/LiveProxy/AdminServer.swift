import NIOCore
import NIOHTTP1
import NIOPosix

/// `--admin HOST:PORT`: `/metrics` (Prometheus text format), `/healthz` (the process is up)
/// and `/readyz` (listening, and the upstream accepts a TCP connection).
public final class AdminServer: Sendable {
    private let proxy: ProxyServer
    private let metrics: ProxyMetrics
    private let channel: any Channel

    /// Binds the admin endpoint on the proxy's event loops.
    public init(host: String, port: Int, proxy: ProxyServer, metrics: ProxyMetrics) throws {
        self.proxy = proxy
        self.metrics = metrics
        let bootstrap = ServerBootstrap(group: proxy.eventLoopGroup)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(AdminHandler(proxy: proxy, metrics: metrics))
                }
            }
        channel = try bootstrap.bind(host: host, port: port).wait()
    }

    public var localAddress: SocketAddress? { channel.localAddress }

    public func close() {
        channel.close(promise: nil)
    }
}

/// Answers one admin request at a time.
final class AdminHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let proxy: ProxyServer
    private let metrics: ProxyMetrics
    private var path = ""

    init(proxy: ProxyServer, metrics: ProxyMetrics) {
        self.proxy = proxy
        self.metrics = metrics
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            path = String(head.uri.prefix { $0 != "?" })
        case .body:
            break
        case .end:
            respond(context)
        }
    }

    private func respond(_ context: ChannelHandlerContext) {
        switch path {
        case "/metrics":
            send(context, .ok, contentType: "text/plain; version=0.0.4; charset=utf-8", body: metrics.exposition())
        case "/healthz":
            send(context, .ok, contentType: "text/plain", body: Array("ok\n".utf8))
        case "/readyz":
            guard proxy.isListening else {
                send(context, .serviceUnavailable, contentType: "text/plain", body: Array("not listening\n".utf8))
                return
            }
            let upstream = proxy.configuration.upstream
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            ClientBootstrap(group: context.eventLoop)
                .connectTimeout(.seconds(2))
                .connect(host: upstream.host, port: upstream.port)
                .assumeIsolated()
                .whenComplete { [self] result in
                    switch result {
                    case .success(let channel):
                        channel.close(promise: nil)
                        send(bound.value, .ok, contentType: "text/plain", body: Array("ready: listening, upstream \(upstream) reachable\n".utf8))
                    case .failure(let error):
                        send(bound.value, .serviceUnavailable, contentType: "text/plain",
                             body: Array("not ready: upstream \(upstream) unreachable: \(ProxyServer.describe(error))\n".utf8))
                    }
                }
        default:
            send(context, .notFound, contentType: "text/plain", body: Array("try /metrics, /healthz or /readyz\n".utf8))
        }
    }

    private func send(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, contentType: String, body: [UInt8]) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(body.count))
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
