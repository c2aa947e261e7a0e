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

/// What one connection measured.
struct LoadResult: Sendable {
    var messages = 0            // round trips sent and answered inside the measured window
    var latencies: [Int64] = [] // their round-trip times, ns
    var error: String?
}

/// Runs echo round trips back to back, one outstanding message at a time: send an S-byte
/// binary message (masked), wait until all S bytes have come back, send the next.
final class LoadHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = ByteBuffer

    private let size: Int
    private let payload: ByteBuffer
    private var rng = SplitMix64()
    private var context: ChannelHandlerContext?
    private var raw: ChannelHandlerContext?

    private var measureFrom: UInt64 = .max   // round trips sent at or after this...
    private var measureUntil: UInt64 = 0     // ...and answered by this are measured; none sent after it
    private var running = false
    private var closing = false
    private var sentAt: UInt64 = 0
    private var receivedBytes = 0
    private var result = LoadResult()
    private var done: EventLoopPromise<LoadResult>?

    init(size: Int) {
        self.size = size
        var payload = ByteBuffer()
        payload.reserveCapacity(size)
        var rng = SplitMix64()
        for _ in 0..<size { payload.writeInteger(UInt8(truncatingIfNeeded: rng.next())) }
        self.payload = payload
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        raw = try? context.pipeline.syncOperations.context(handlerType: RawSender.self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        raw = nil
    }

    /// Starts the round trips; `done` gets the result once the window has passed.
    func start(from: UInt64, until: UInt64, expectedCount: Int, done: EventLoopPromise<LoadResult>) {
        measureFrom = from
        measureUntil = until
        self.done = done
        result.latencies.reserveCapacity(min(expectedCount, 4_000_000))
        running = true
        guard let context else { return finish(error: "connection gone before the start") }
        // Give up on a stuck connection a few seconds after the window closes.
        let deadline = Int64(until - min(until, monotonicNanoseconds())) + 5_000_000_000
        context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(deadline)) { [self] in
            if running { finish(error: "no echo reply within 5 s after the end") }
        }
        send()
    }

    private func send() {
        guard let raw else { return finish(error: "no raw sender in the pipeline") }
        var frame = raw.channel.allocator.buffer(capacity: size + 14)
        writeMaskedFrame(into: &frame, opcode: .binary, payload: payload, key: .random(using: &rng))
        receivedBytes = 0
        sentAt = monotonicNanoseconds()
        raw.writeAndFlush(NIOAny(frame), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .binary, .continuation, .text:
            guard running else { return }
            receivedBytes += frame.length
            guard frame.fin else { return }
            let now = monotonicNanoseconds()
            if receivedBytes != size {
                return finish(error: "echo of \(size) bytes came back as \(receivedBytes) bytes")
            }
            if sentAt >= measureFrom && now <= measureUntil {
                result.messages += 1
                result.latencies.append(Int64(now - sentAt))
            }
            if now >= measureUntil {
                finish(error: nil)
            } else {
                send()
            }
        case .connectionClose:
            if closing {
                context.close(promise: nil)
            } else {
                finish(error: "the server sent a close frame during the run")
                context.close(promise: nil)
            }
        case .ping:
            var body = context.channel.allocator.buffer(capacity: 128)
            writeMaskedFrame(into: &body, opcode: .pong, payload: frame.data, key: .random(using: &rng))
            writeRaw(context: context, body, flush: true)
        default:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if running { finish(error: "connection closed during the run") }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if running { finish(error: "\(error)") }
        context.close(promise: nil)
    }

    private func finish(error: String?) {
        guard running || done != nil else { return }
        running = false
        result.error = error
        let promise = done
        done = nil
        promise?.succeed(result)
        result.latencies = []
    }

    /// Starts the closing handshake.
    func close() {
        guard let context, !closing else { return }
        closing = true
        sendClose(context: context, rng: &rng)
    }
}

enum Load {
    struct Options {
        var url: WebSocketURL
        var connections: Int
        var size: Int
        var duration: Double
        var warmup: Double
        var threads: Int
        var window: Int
    }

    static func run(_ options: Options) throws {
        raiseOpenFileLimit()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: options.threads)
        defer { try? group.syncShutdownGracefully() }
        let size = options.size

        // Open every connection first (at most `window` handshakes in flight; socat listens with a backlog of 5).
        let channels = try openMany(options.connections, group: group, url: options.url, window: options.window) {
            LoadHandler(size: size)
        }

        let now = monotonicNanoseconds()
        let from = now + UInt64(options.warmup * 1e9)
        let until = from + UInt64(options.duration * 1e9)
        var futures: [EventLoopFuture<LoadResult>] = []
        for channel in channels {
            let promise = channel.eventLoop.makePromise(of: LoadResult.self)
            futures.append(promise.futureResult)
            channel.eventLoop.execute {
                guard let handler = try? channel.pipeline.syncOperations.handler(type: LoadHandler.self) else {
                    promise.succeed(LoadResult(error: "handler missing"))
                    return
                }
                handler.start(from: from, until: until, expectedCount: Int(options.duration * 200_000) / options.connections + 1024,
                              done: promise)
            }
        }
        let results = try EventLoopFuture.whenAllSucceed(futures, on: group.next()).wait()

        // Close every connection cleanly: close frame each way, then the server closes TCP.
        for channel in channels {
            channel.eventLoop.execute {
                (try? channel.pipeline.syncOperations.handler(type: LoadHandler.self))?.close()
            }
        }
        _ = try? EventLoopFuture.whenAllComplete(channels.map { $0.closeFuture }, on: group.next()).wait()

        let errors = results.compactMap(\.error)
        if !errors.isEmpty {
            fail("\(errors.count) of \(channels.count) connections failed; first: \(errors[0])")
        }
        var latencies: [Int64] = []
        latencies.reserveCapacity(results.reduce(0) { $0 + $1.latencies.count })
        for result in results { latencies.append(contentsOf: result.latencies) }
        latencies.sort()
        let messages = results.reduce(0) { $0 + $1.messages }
        guard messages > 0 else { fail("no round trip completed inside the measured window") }
        let perSecond = Double(messages) / options.duration
        let megabytes = perSecond * Double(size) / 1e6
        func percentile(_ p: Double) -> Double {
            let index = min(latencies.count - 1, max(0, Int((p / 100 * Double(latencies.count)).rounded(.up)) - 1))
            return Double(latencies[index]) / 1000
        }
        let p50 = percentile(50), p99 = percentile(99), p999 = percentile(99.9)
        let maxLatency = Double(latencies.last!) / 1000
        say("wsbench load: \(options.url) connections=\(options.connections) size=\(size) B "
            + "warmup=\(options.warmup) s duration=\(options.duration) s threads=\(options.threads)")
        say(String(format: "  round trips: %d in %.1f s = %.0f messages/s; payload %.2f MB/s one way (MB = 10^6 B; x2 for both ways)",
                   messages, options.duration, perSecond, megabytes))
        say(String(format: "  latency (round trip, us): p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f", p50, p99, p999, maxLatency))
        say(String(format: "RESULT msgs_per_s=%.1f mb_per_s=%.3f p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f messages=%d connections=%d size=%d",
                   perSecond, megabytes, p50, p99, p999, maxLatency, messages, options.connections, size))
    }

    /// Opens `count` WebSocket connections, at most `window` handshakes at a time; throws
    /// when any of them fails.
    static func openMany(_ count: Int, group: any EventLoopGroup, url: WebSocketURL, window: Int = 128,
                         make: @escaping @Sendable () -> any ChannelHandler) throws -> [any Channel] {
        let slots = DispatchSemaphore(value: window)
        let opened = NIOLockedValueBox<(channels: [any Channel], errors: [String])>(([], []))
        let all = DispatchGroup()
        for _ in 0..<count {
            slots.wait()
            all.enter()
            openWebSocket(on: group.next(), url: url, make: make).whenComplete { result in
                opened.withLockedValue { state in
                    switch result {
                    case .success(let channel): state.channels.append(channel)
                    case .failure(let error): state.errors.append("\(error)")
                    }
                }
                slots.signal()
                all.leave()
            }
        }
        all.wait()
        let (channels, errors) = opened.withLockedValue { ($0.channels, $0.errors) }
        if !errors.isEmpty {
            for channel in channels { channel.close(promise: nil) }
            throw BenchError("\(errors.count) of \(count) connections failed to open; first: \(errors[0])")
        }
        return channels
    }
}
