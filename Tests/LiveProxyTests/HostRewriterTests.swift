import LiveProxy
import NIOCore
import Testing

@Suite struct HostRewriterTests {
    private func run(_ input: String, chunk: Int = .max) -> String {
        var rewriter = HostRewriter(host: "backend:9000")
        let bytes = Array(input.utf8)
        var output: [UInt8] = []
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + chunk)
            let piece = ByteBuffer(bytes: bytes[start..<end])
            let out = rewriter.process(piece, allocator: ByteBufferAllocator())
            output += out.readableBytesView
            start = end
        }
        return String(decoding: output, as: UTF8.self)
    }

    @Test func rewritesHostOfEveryRequestUntilTheUpgrade() {
        let plain = "GET /health HTTP/1.1\r\nHost: public.example\r\nContent-Length: 3\r\n\r\nabc"
        let upgrade = "GET /ws HTTP/1.1\r\nHost: public.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        let frames = "\u{81}\u{85}GET / HTTP/1.1\r\nHost: untouched\r\n\r\n"
        let expected = plain.replacingOccurrences("Host: public.example", "Host: backend:9000")
            + upgrade.replacingOccurrences("Host: public.example", "Host: backend:9000") + frames
        for chunk in [1, 3, 7, 64, Int.max] {
            #expect(run(plain + upgrade + frames, chunk: chunk) == expected, "chunk \(chunk)")
        }
    }

    @Test func somethingThatIsNotHTTPPassesUnchanged() {
        let garbage = "\u{16}\u{03}\u{01} not http at all\r\n\r\nmore"
        #expect(run(garbage) == garbage)
    }

    @Test func upstreamURLsAreParsed() {
        #expect(UpstreamAddress(url: "ws://127.0.0.1:8080/chat") == UpstreamAddress(host: "127.0.0.1", port: 8080, secure: false))
        #expect(UpstreamAddress(url: "wss://example.com") == UpstreamAddress(host: "example.com", port: 443, secure: true))
        #expect(UpstreamAddress(url: "ws://[::1]:9000") == UpstreamAddress(host: "::1", port: 9000, secure: false))
        #expect(UpstreamAddress(url: "http://example.com") == nil)
        #expect(UpstreamAddress(url: "ws://host:99999") == nil)
        #expect(UpstreamAddress(url: "ws://[::1]:9000").map { "\($0)" } == "ws://[::1]:9000")
    }
}

extension String {
    func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
