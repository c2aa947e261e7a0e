import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// What `/readyz` answers.
public struct Readiness: Sendable {
    public var ready: Bool
    /// One line saying why (not).
    public var detail: String

    public init(ready: Bool, detail: String) {
        self.ready = ready
        self.detail = detail
    }
}

/// Decides `/readyz`: whether the process can do its job now.
public protocol ReadinessCheck: Sendable {
    func checkReadiness(on eventLoop: any EventLoop) -> EventLoopFuture<Readiness>
}

/// Readiness set by whoever knows it (a capture that has started and not stopped).
public final class ReadinessFlag: ReadinessCheck {
    private let state: NIOLockedValueBox<Readiness>

    public init(_ initial: Readiness) {
        state = NIOLockedValueBox(initial)
    }

    public func set(_ readiness: Readiness) {
        state.withLockedValue { $0 = readiness }
    }

    public func checkReadiness(on eventLoop: any EventLoop) -> EventLoopFuture<Readiness> {
        eventLoop.makeSucceededFuture(state.withLockedValue { $0 })
    }
}

/// `--admin HOST:PORT`: `/metrics` (Prometheus text format), `/healthz` (the process is up)
/// and `/readyz` (as `readiness` decides).
public final class AdminServer: Sendable {
    private let channel: any Channel

    /// Binds the admin endpoint on `group`'s event loops.
    public init(host: String, port: Int, group: any EventLoopGroup, metrics: LiveMetrics, readiness: any ReadinessCheck) throws {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(AdminHandler(metrics: metrics, readiness: readiness))
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

    private let metrics: LiveMetrics
    private let readiness: any ReadinessCheck
    private var path = ""

    init(metrics: LiveMetrics, readiness: any ReadinessCheck) {
        self.metrics = metrics
        self.readiness = readiness
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
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            readiness.checkReadiness(on: context.eventLoop).hop(to: context.eventLoop).assumeIsolated().whenSuccess { [self] answer in
                send(bound.value, answer.ready ? .ok : .serviceUnavailable, contentType: "text/plain", body: Array((answer.detail + "\n").utf8))
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
