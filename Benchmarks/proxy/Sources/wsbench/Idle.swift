import Dispatch
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOWebSocket

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Holds a connection open and idle; answers pings; closes cleanly when asked.
final class IdleHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = ByteBuffer

    private var rng = SplitMix64()
    private var context: ChannelHandlerContext?
    private var closing = false
    private let cleanCloses: NIOLockedValueBox<Int>

    init(cleanCloses: NIOLockedValueBox<Int>) { self.cleanCloses = cleanCloses }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .connectionClose:
            if closing { cleanCloses.withLockedValue { $0 += 1 } }
            context.close(promise: nil)
        case .ping:
            var body = context.channel.allocator.buffer(capacity: 128)
            writeMaskedFrame(into: &body, opcode: .pong, payload: frame.data, key: .random(using: &rng))
            writeRaw(context: context, body, flush: true)
        default:
            break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func close() {
        guard let context, !closing else { return }
        closing = true
        sendClose(context: context, rng: &rng)
    }
}

enum Idle {
    static func run(url: WebSocketURL, connections: Int, hold: Double, threads: Int, window: Int) throws {
        raiseOpenFileLimit()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        defer { try? group.syncShutdownGracefully() }
        let started = monotonicNanoseconds()
        let cleanCloses = NIOLockedValueBox(0)
        let channels: [any Channel]
        do {
            channels = try Load.openMany(connections, group: group, url: url, window: window) {
                IdleHandler(cleanCloses: cleanCloses)
            }
        } catch {
            fail("\(error)")
        }
        let openSeconds = Double(monotonicNanoseconds() - started) / 1e9
        // The run script waits for this line before it samples memory.
        say(String(format: "READY open=%d seconds=%.2f", channels.count, openSeconds))
        usleep(UInt32(hold * 1_000_000))

        // A connection still open now was held through the whole hold.
        let stillOpen = channels.filter { $0.isActive }.count
        let closing = monotonicNanoseconds()
        for channel in channels {
            channel.eventLoop.execute {
                (try? channel.pipeline.syncOperations.handler(type: IdleHandler.self))?.close()
            }
        }
        _ = try? EventLoopFuture.whenAllComplete(channels.map { $0.closeFuture }, on: group.next()).wait()
        let clean = cleanCloses.withLockedValue { $0 }
        let closeSeconds = Double(monotonicNanoseconds() - closing) / 1e9
        say(String(format: "DONE held=%d of %d clean_closes=%d close_seconds=%.2f", stillOpen, channels.count, clean, closeSeconds))
        if stillOpen != channels.count {
            fail("\(channels.count - stillOpen) connections were closed by the other side during the hold")
        }
    }
}
