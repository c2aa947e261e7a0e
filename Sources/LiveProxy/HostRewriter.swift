import Foundation
import NIOCore
import WebSocketWire

/// Rewrites the Host header of the client's HTTP requests (`--rewrite-host`), for servers
/// that check it against their own name. This alters traffic, so it is opt-in.
///
/// Request heads are held until complete (at most `maxHeadSize` bytes; a longer head is
/// forwarded unchanged), rewritten, and released; bodies pass through. After an upgrade
/// request everything passes through untouched.
public struct HostRewriter {
    let host: String
    let maxHeadSize: Int
    private var state: State = .head
    private var held: [UInt8] = []
    private var body = HTTPBodySkipper(.none)

    private enum State { case head, body, passThrough }

    public init(host: String, maxHeadSize: Int = 16 * 1024) {
        self.host = host
        self.maxHeadSize = maxHeadSize
    }

    /// The bytes to forward for `input` (possibly fewer now, more later).
    public mutating func process(_ input: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        if case .passThrough = state { return input }
        var output = allocator.buffer(capacity: input.readableBytes + 64)
        var rest = Array(input.readableBytesView)[...]
        while !rest.isEmpty {
            switch state {
            case .passThrough:
                output.writeBytes(rest)
                rest = []
            case .body:
                let (consumed, outcome) = rest.withUnsafeBytes { body.skip($0) }
                output.writeBytes(rest.prefix(consumed))
                rest = rest.dropFirst(consumed)
                switch outcome {
                case .needMoreData: break
                case .done: state = .head
                case .malformed: state = .passThrough
                }
            case .head:
                held.append(contentsOf: rest)
                rest = []
                guard let end = Self.endOfHead(held) else {
                    if held.count > maxHeadSize {
                        output.writeBytes(held)
                        held = []
                        state = .passThrough
                    }
                    break
                }
                let head = Array(held[..<end])
                rest = held[end...]
                held = []
                output.writeBytes(rewrite(head))
            }
        }
        return output
    }

    /// Index just past the blank line ending a head, if the bytes hold one.
    static func endOfHead(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 3..<bytes.count where bytes[i] == 0x0A && bytes[i - 1] == 0x0D && bytes[i - 2] == 0x0A && bytes[i - 3] == 0x0D {
            return i + 1
        }
        return nil
    }

    /// Replaces the Host line, and decides what follows the head.
    private mutating func rewrite(_ head: [UInt8]) -> [UInt8] {
        var parser = HTTPHeadParser(kind: .request, maxHeadSize: max(maxHeadSize, head.count))
        let outcome = head.withUnsafeBytes { parser.parse($0).outcome }
        guard case .request(let request) = outcome else {
            state = .passThrough
            return head
        }
        if WebSocketHandshake.isUpgradeRequest(request) {
            state = .passThrough
        } else {
            let framing = HTTPBodySkipper.framing(request: request)
            if framing == .none { state = .head } else {
                body = HTTPBodySkipper(framing)
                state = .body
            }
        }
        var lines = String(decoding: head, as: UTF8.self).components(separatedBy: "\r\n")
        if let index = lines.firstIndex(where: { $0.lowercased().hasPrefix("host:") }) {
            lines[index] = "Host: \(host)"
        }
        return Array(lines.joined(separator: "\r\n").utf8)
    }
}
