import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

// A WebSocket server written with SwiftNIO for the proxy tests (the "SwiftNIO peer"): it runs
// in the test process on 127.0.0.1, on a port the kernel picks, with its own event loop, and
// behaves like a small real application:
//
// - it accepts every upgrade (NIOWebSocketServerUpgrader; NIO's own protocol error handling,
//   which answers malformed frames with 1002);
// - it echoes text and binary messages (fragmented ones are put together first by
//   NIOWebSocketFrameAggregator) and answers pings with pongs;
// - NIOWebSocket does not check that text is UTF-8, so the application does, like real ones
//   must: a text message that is not UTF-8 gets a close 1007 "invalid UTF-8";
// - it answers a client's close with a close carrying the same code (an empty one to an
//   empty one) and then ends TCP, as a server should; after a close of its own it ends TCP
//   once the client's answer arrives (or 5 s later without one).
//
// What each connection did is kept in `connections`, for the tests to compare with
// wsdoctor's report. `shutdown()` closes the listener and every connection and stops the
// event loop; call it from the test (`defer` cannot await: see `withNIOEchoServer`).

/// What one connection did, as the NIO server saw it.
struct NIOServerConnection: Sendable {
    var path = ""
    var textMessages = 0
    var binaryMessages = 0
    var pings = 0
    /// The code in the client's close frame (nil: none came; -1: an empty close frame).
    var closeReceived: Int?
    /// The code of the close the server sent (its own or its answer), -1 for an empty one.
    var closeSent: Int?
    var ended = false
}

final class NIOEchoServer: Sendable {
    let port: Int
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    private let records: Locked<[NIOServerConnection]>

    private init(port: Int, group: MultiThreadedEventLoopGroup, channel: any Channel, records: Locked<[NIOServerConnection]>) {
        self.port = port
        self.group = group
        self.channel = channel
        self.records = records
    }

    /// Every connection so far, in the order they were upgraded.
    var connections: [NIOServerConnection] { records.withLock { $0 } }

    static func start() async throws -> NIOEchoServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let records = Locked<[NIOServerConnection]>([])
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                let upgrader = NIOWebSocketServerUpgrader(
                    maxFrameSize: 1 << 24,
                    shouldUpgrade: { channel, _ in channel.eventLoop.makeSucceededFuture(HTTPHeaders()) },
                    upgradePipelineHandler: { channel, head in
                        channel.eventLoop.makeCompletedFuture {
                            let index = records.withLock { all -> Int in
                                all.append(NIOServerConnection(path: head.uri))
                                return all.count - 1
                            }
                            try channel.pipeline.syncOperations.addHandler(
                                NIOWebSocketFrameAggregator(minNonFinalFragmentSize: 1, maxAccumulatedFrameCount: 1_000,
                                                            maxAccumulatedFrameSize: 1 << 24))
                            try channel.pipeline.syncOperations.addHandler(EchoHandler(records: records, index: index))
                        }
                    })
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
                }
            }
        do {
            let channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
            guard let port = channel.localAddress?.port else {
                try? await channel.close()
                throw ProxyTestError("the NIO server has no local port")
            }
            return NIOEchoServer(port: port, group: group, channel: channel, records: records)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    /// Waits (bounded) until `count` connections have ended.
    func waitForEnded(_ count: Int) async throws -> [NIOServerConnection] {
        try await poll("\(count) NIO server connections to end; so far: \(connections)") {
            let all = connections
            return all.filter(\.ended).count >= count ? all : nil
        }
    }

    /// Closes the listener and every connection, then stops the event loop.
    func shutdown() async {
        try? await channel.close()
        try? await group.shutdownGracefully()
    }
}

/// Runs `body` with a NIO echo server; the server is shut down after, whatever happens.
func withNIOEchoServer<T>(_ body: (NIOEchoServer) async throws -> T) async throws -> T {
    let server = try await NIOEchoServer.start()
    do {
        let result = try await body(server)
        await server.shutdown()
        return result
    } catch {
        await server.shutdown()
        throw error
    }
}

/// The application: echo, UTF-8 check, closing handshake.
private final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let records: Locked<[NIOServerConnection]>
    private let index: Int
    private var closeSent = false

    init(records: Locked<[NIOServerConnection]>, index: Int) {
        self.records = records
        self.index = index
    }

    private func update(_ change: (inout NIOServerConnection) -> Void) {
        records.withLock { change(&$0[index]) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            var payload = frame.unmaskedData
            let bytes = payload.readBytes(length: payload.readableBytes) ?? []
            update { $0.textMessages += 1 }
            guard Self.isUTF8(bytes) else {
                sendClose(context: context, code: .dataInconsistentWithMessage, reason: "invalid UTF-8")
                return
            }
            send(context: context, opcode: .text, bytes: bytes)
        case .binary:
            var payload = frame.unmaskedData
            update { $0.binaryMessages += 1 }
            send(context: context, opcode: .binary, bytes: payload.readBytes(length: payload.readableBytes) ?? [])
        case .ping:
            var payload = frame.unmaskedData
            update { $0.pings += 1 }
            send(context: context, opcode: .pong, bytes: payload.readBytes(length: payload.readableBytes) ?? [])
        case .connectionClose:
            var payload = frame.unmaskedData
            let code = payload.readableBytes >= 2 ? payload.readInteger(as: UInt16.self).map(Int.init) : -1
            update { $0.closeReceived = code }
            if closeSent {
                // Our close was answered: the closing handshake is complete; the server ends TCP.
                context.close(promise: nil)
            } else {
                closeSent = true
                update { $0.closeSent = code }
                var answer = context.channel.allocator.buffer(capacity: 2)
                if let code, code >= 0 { answer.writeInteger(UInt16(code)) }
                let done = context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: answer)))
                let channel = context.channel
                done.whenComplete { _ in channel.close(promise: nil) }
            }
        default:
            break  // pongs; the aggregator never passes continuation frames on
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        update { $0.ended = true }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func send(context: ChannelHandlerContext, opcode: WebSocketOpcode, bytes: [UInt8]) {
        guard !closeSent else { return }
        let buffer = context.channel.allocator.buffer(bytes: bytes)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: opcode, data: buffer)), promise: nil)
    }

    /// Sends the server's own close and waits (at most 5 s) for the client's answer.
    private func sendClose(context: ChannelHandlerContext, code: WebSocketErrorCode, reason: String) {
        guard !closeSent else { return }
        closeSent = true
        var buffer = context.channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        buffer.write(webSocketErrorCode: code)
        buffer.writeString(reason)
        update { $0.closeSent = Int(UInt16(webSocketErrorCode: code)) }
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: buffer)), promise: nil)
        let channel = context.channel
        context.eventLoop.scheduleTask(in: .seconds(5)) { channel.close(promise: nil) }
    }

    /// Whether `bytes` are valid UTF-8 (the standard library's decoder, stopping at the first error).
    static func isUTF8(_ bytes: [UInt8]) -> Bool {
        !transcode(bytes.makeIterator(), from: UTF8.self, to: UTF32.self, stoppingOnError: true) { _ in }
    }
}
