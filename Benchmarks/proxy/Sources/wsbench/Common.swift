import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `ws://host:port[/path]`.
struct WebSocketURL: Sendable, CustomStringConvertible {
    var host: String
    var port: Int
    var path: String

    init?(_ text: String) {
        guard text.hasPrefix("ws://") else { return nil }
        var rest = Substring(text.dropFirst(5))
        path = "/"
        if let slash = rest.firstIndex(of: "/") {
            path = String(rest[slash...])
            rest = rest[..<slash]
        }
        var hostPart = rest
        port = 80
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            hostPart = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") {
                guard let value = Int(after.dropFirst()) else { return nil }
                port = value
            }
        } else if let colon = rest.lastIndex(of: ":") {
            hostPart = rest[..<colon]
            guard let value = Int(rest[rest.index(after: colon)...]) else { return nil }
            port = value
        }
        guard !hostPart.isEmpty, (1...65535).contains(port) else { return nil }
        host = String(hostPart)
    }

    var hostHeader: String { (host.contains(":") ? "[\(host)]" : host) + ":\(port)" }
    var description: String { "ws://\(hostHeader)\(path)" }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Prints a line to stdout and flushes it (the run script reads our output while we run).
func say(_ line: String) {
    print(line)
    fflush(nil)
}

func fail(_ message: String) -> Never {
    fflush(nil)
    FileHandle.standardError.write(Data("wsbench: \(message)\n".utf8))
    exit(1)
}

/// Largest frame either side accepts.
let maxFrameSize = 1 << 26

/// XORs `bytes` with the 4-byte masking key, 8 bytes at a time (RFC 6455 §5.3), starting at
/// key offset 0. Masking and unmasking are the same operation.
@inline(__always)
func applyMask(_ bytes: UnsafeMutableRawBufferPointer, key: WebSocketMaskingKey) {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return }
    let count = bytes.count
    var key8: UInt64 = 0
    withUnsafeMutableBytes(of: &key8) { raw in
        for index in 0..<8 { raw[index] = key[index % 4] }
    }
    var offset = 0
    while offset + 8 <= count {
        let word = base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
        base.storeBytes(of: word ^ key8, toByteOffset: offset, as: UInt64.self)
        offset += 8
    }
    while offset < count {
        let byte = base.load(fromByteOffset: offset, as: UInt8.self)
        base.storeBytes(of: byte ^ key[offset % 4], toByteOffset: offset, as: UInt8.self)
        offset += 1
    }
}

/// A small fast generator for masking keys (a masking key per frame, as RFC 6455 asks; the
/// benchmark needs them varied, not secret).
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init() { state = UInt64.random(in: .min ... .max) }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Writes a client frame: header with the mask bit, the key, and `payload` masked with it.
func writeMaskedFrame(into buffer: inout ByteBuffer, opcode: WebSocketOpcode, payload: ByteBuffer,
                      key: WebSocketMaskingKey) {
    let length = payload.readableBytes
    buffer.writeInteger(UInt8(0x80) | UInt8(webSocketOpcode: opcode))  // FIN + opcode
    if length < 126 {
        buffer.writeInteger(UInt8(0x80) | UInt8(length))
    } else if length <= Int(UInt16.max) {
        buffer.writeInteger(UInt8(0x80 | 126))
        buffer.writeInteger(UInt16(length))
    } else {
        buffer.writeInteger(UInt8(0x80 | 127))
        buffer.writeInteger(UInt64(length))
    }
    buffer.writeBytes(key)
    let start = buffer.writerIndex
    buffer.writeImmutableBuffer(payload)
    let skip = start - buffer.readerIndex
    buffer.withUnsafeMutableReadableBytes { all in
        applyMask(UnsafeMutableRawBufferPointer(rebasing: all[skip...]), key: key)
    }
}

/// Sits first in a client pipeline (next to the socket) so that frames we have already
/// encoded and masked bypass `WebSocketFrameEncoder`, whose masking goes a byte at a time.
final class RawSender: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
}

enum UpgradeOutcome: Sendable {
    case upgraded(any Channel)
    case refused(String)
}

/// Connects, completes the WebSocket opening handshake (NIOHTTP1 + NIOWebSocket client
/// upgrader, which checks Sec-WebSocket-Accept), then adds the handler `make` returns.
/// Fails on a refused upgrade, a connection error, or no upgrade within `timeout`.
func openWebSocket(on loop: any EventLoop, url: WebSocketURL, timeout: TimeAmount = .seconds(30),
                   make: @escaping @Sendable () -> any ChannelHandler) -> EventLoopFuture<any Channel> {
    let promise = loop.makePromise(of: (any Channel).self)
    let timer = loop.scheduleTask(in: timeout) {
        promise.fail(BenchError("no WebSocket handshake within \(timeout.nanoseconds / 1_000_000_000) s"))
    }
    promise.futureResult.whenComplete { _ in timer.cancel() }
    ClientBootstrap(group: loop)
        .channelOption(.socketOption(.tcp_nodelay), value: 1)
        .connectTimeout(.seconds(10))
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(RawSender(), position: .first)
                let upgrader = NIOTypedWebSocketClientUpgrader<UpgradeOutcome>(
                    maxFrameSize: maxFrameSize, enableAutomaticErrorHandling: false
                ) { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(make())
                        return UpgradeOutcome.upgraded(channel)
                    }
                }
                var headers = HTTPHeaders()
                headers.add(name: "Host", value: url.hostHeader)
                headers.add(name: "Content-Length", value: "0")
                let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: url.path, headers: headers)
                let configuration = NIOTypedHTTPClientUpgradeConfiguration<UpgradeOutcome>(
                    upgradeRequestHead: head, upgraders: [upgrader],
                    notUpgradingCompletionHandler: { channel in
                        channel.eventLoop.makeSucceededFuture(.refused("server answered without upgrading"))
                    })
                let outcome = try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
                    configuration: .init(upgradeConfiguration: configuration))
                outcome.whenComplete { result in
                    switch result {
                    case .success(.upgraded(let channel)): promise.succeed(channel)
                    case .success(.refused(let why)):
                        channel.close(promise: nil)
                        promise.fail(BenchError(why))
                    case .failure(let error):
                        channel.close(promise: nil)
                        promise.fail(error)
                    }
                }
                channel.closeFuture.whenComplete { _ in
                    promise.fail(BenchError("connection closed during the handshake"))
                }
            }
        }
        .connect(host: url.host, port: url.port)
        .whenFailure { promise.fail($0) }
    return promise.futureResult
}

/// Sends a masked close frame (1000) and closes the TCP connection when the server's close
/// frame arrives (the server closes first), or after `grace` regardless.
func sendClose(context: ChannelHandlerContext, rng: inout SplitMix64, grace: TimeAmount = .seconds(5)) {
    var body = context.channel.allocator.buffer(capacity: 2)
    body.writeInteger(UInt16(1000))
    var frame = context.channel.allocator.buffer(capacity: 8)
    writeMaskedFrame(into: &frame, opcode: .connectionClose, payload: body, key: .random(using: &rng))
    writeRaw(context: context, frame, flush: true)
    let channel = context.channel
    context.eventLoop.scheduleTask(in: grace) { channel.close(promise: nil) }
}

/// Writes already-encoded bytes straight to the socket, past the frame encoder.
func writeRaw(context: ChannelHandlerContext, _ buffer: ByteBuffer, flush: Bool) {
    guard let raw = try? context.pipeline.syncOperations.context(handlerType: RawSender.self) else {
        context.close(promise: nil)
        return
    }
    raw.write(NIOAny(buffer), promise: nil)
    if flush { raw.flush() }
}

/// Raises the soft open-files limit to the hard limit.
func raiseOpenFileLimit() {
    var limit = rlimit()
    if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}

func monotonicNanoseconds() -> UInt64 { NIODeadline.now().uptimeNanoseconds }
