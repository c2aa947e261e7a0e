import Testing
import WebSocketWire

@Suite struct HTTPBodySkipperTests {
    private typealias Framing = HTTPBodySkipper.Framing

    /// Skips `text` (plus a marker after it) every way; all must agree. Returns the outcome and the bytes consumed.
    private func skipEveryWay(_ text: String, _ framing: Framing, suffix: String = "NEXT") -> (HTTPBodySkipper.Outcome, Int) {
        let bytes = Array((text + suffix).utf8)
        let results = HTTPTestSupport.chunkings(of: bytes.count).map { HTTPTestSupport.skipBody(bytes, framing: framing, plan: $0) }
        #expect(results.allSatisfy { $0 == results[0] }, "chunking changed the outcome for \(text.debugDescription)")
        return results[0]
    }

    private func request(_ headers: HTTPHeaders, method: String = "POST") -> HTTPRequestHead {
        HTTPRequestHead(method: method, target: "/", headers: headers)
    }

    private func response(_ status: Int, _ headers: HTTPHeaders = [:]) -> HTTPResponseHead {
        HTTPResponseHead(status: status, headers: headers)
    }

    @Test func requestFraming() {
        #expect(HTTPBodySkipper.framing(request: request([:], method: "GET")) == .none)
        #expect(HTTPBodySkipper.framing(request: request(["Content-Length": "12"])) == .length(12))
        #expect(HTTPBodySkipper.framing(request: request(["Content-Length": "12, 12"])) == .length(12))
        #expect(HTTPBodySkipper.framing(request: request(["Content-Length": "0"])) == .length(0))
        #expect(HTTPBodySkipper.framing(request: request(["Transfer-Encoding": "chunked", "Content-Length": "12"])) == .chunked)
        #expect(HTTPBodySkipper.framing(request: request(["Transfer-Encoding": "gzip", "transfer-encoding": "Chunked"])) == .chunked)
        // No reliable length: the server must answer 400 and close (RFC 9112 §6.3).
        #expect(HTTPBodySkipper.framing(request: request(["Transfer-Encoding": "chunked, gzip"])) == .untilClose)
        #expect(HTTPBodySkipper.framing(request: request(["Content-Length": "12", "content-length": "13"])) == .untilClose)
        #expect(HTTPBodySkipper.framing(request: request(["Content-Length": "-1"])) == .untilClose)
        #expect(HTTPBodySkipper.framing(request: request(["Content-Length": "99999999999999999999"])) == .untilClose)
    }

    @Test func responseFraming() {
        let chunked: HTTPHeaders = ["Transfer-Encoding": "chunked"]
        #expect(HTTPBodySkipper.framing(response: response(200, ["Content-Length": "5"]), requestMethod: "HEAD") == .none)
        #expect(HTTPBodySkipper.framing(response: response(101, ["Content-Length": "5"]), requestMethod: "GET") == .none)
        #expect(HTTPBodySkipper.framing(response: response(100), requestMethod: "GET") == .none)
        #expect(HTTPBodySkipper.framing(response: response(204, chunked), requestMethod: "GET") == .none)
        #expect(HTTPBodySkipper.framing(response: response(304, ["Content-Length": "5"]), requestMethod: "GET") == .none)
        #expect(HTTPBodySkipper.framing(response: response(200, ["Content-Length": "5"]), requestMethod: "CONNECT") == .untilClose)
        #expect(HTTPBodySkipper.framing(response: response(407, ["Content-Length": "5"]), requestMethod: "CONNECT") == .length(5))
        #expect(HTTPBodySkipper.framing(response: response(200, ["Transfer-Encoding": "chunked", "Content-Length": "5"]), requestMethod: "GET") == .chunked)
        #expect(HTTPBodySkipper.framing(response: response(200, ["Transfer-Encoding": "gzip"]), requestMethod: "GET") == .untilClose)
        #expect(HTTPBodySkipper.framing(response: response(400, ["Content-Length": "5"]), requestMethod: "GET") == .length(5))
        #expect(HTTPBodySkipper.framing(response: response(200, ["Content-Length": "5, 6"]), requestMethod: "GET") == .untilClose)
        #expect(HTTPBodySkipper.framing(response: response(426), requestMethod: "GET") == .untilClose)
    }

    @Test func contentLengthBody() {
        #expect(skipEveryWay("hello world", .length(11)) == (.done, 11))
        #expect(skipEveryWay("", .length(0)) == (.done, 0))
        #expect(skipEveryWay("", .none) == (.done, 0))
        let (outcome, consumed) = skipEveryWay("short", .length(100), suffix: "")
        #expect(outcome == .needMoreData && consumed == 5)
    }

    @Test func untilCloseNeverEnds() {
        #expect(skipEveryWay("everything, forever", .untilClose) == (.needMoreData, 23))
    }

    @Test func chunkedBodies() {
        let bodies = [
            "5\r\nhello\r\n0\r\n\r\n",
            "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
            "000A\r\n0123456789\r\n0000\r\n\r\n",
            "a\r\n0123456789\r\nA\r\n0123456789\r\n0\r\n\r\n",
            "5;name=value;flag\r\nhello\r\n0; last=\"a;b\"\r\n\r\n",  // chunk extensions
            "5 ; ext\r\nhello\r\n0\r\n\r\n",                         // BWS before an extension
            "5\r\nhello\r\n0\r\nExpires: never\r\nX-Checksum: 1\r\n\r\n",  // trailers
            "5\nhello\n0\nTrailer: x\n\n",                            // bare LF throughout
        ]
        for body in bodies {
            #expect(skipEveryWay(body, .chunked) == (.done, body.utf8.count), "\(body.debugDescription)")
        }
    }

    @Test func chunkedBodyCutShortNeedsMoreData() {
        let body = "5\r\nhello\r\n0\r\nTrailer: x\r\n"
        #expect(skipEveryWay(body, .chunked, suffix: "") == (.needMoreData, body.utf8.count))
    }

    @Test func malformedChunkedBodies() {
        let bodies = [
            "\r\nhello\r\n0\r\n\r\n",                 // no size
            "x5\r\nhello\r\n0\r\n\r\n",               // not hex
            "5\r\nhelloXX0\r\n\r\n",                  // data not followed by CRLF
            "5\r\nhello\r\r\n0\r\n\r\n",              // CR CR
            "5\rx\nhello\r\n0\r\n\r\n",               // bare CR in the size line
            "5\u{1}\r\nhello\r\n0\r\n\r\n",           // control after size
            "5;a\u{1}\r\nhello\r\n0\r\n\r\n",         // control in an extension
            "10000000000000000\r\n",                  // overflows 63 bits
            "0\r\nno colon here\r\n\r\n",             // trailer line without a colon
            "0\r\nA: b\r\n folded\r\n\r\n",           // obsolete folding in the trailers
        ]
        for body in bodies {
            let (outcome, _) = skipEveryWay(body, .chunked)
            guard case .malformed = outcome else {
                Issue.record("\(body.debugDescription) gave \(outcome)")
                continue
            }
        }
    }

    @Test func linesAreBounded() {
        let longExtension = "5;" + String(repeating: "x", count: 5000) + "\r\nhello\r\n0\r\n\r\n"
        guard case .malformed = skipEveryWay(longExtension, .chunked).0 else {
            Issue.record("a 5000-byte chunk extension was accepted")
            return
        }
        let longSize = String(repeating: "0", count: 5000) + "5\r\nhello\r\n0\r\n\r\n"
        guard case .malformed = skipEveryWay(longSize, .chunked).0 else {
            Issue.record("a 5000-digit chunk size was accepted")
            return
        }
        var skipper = HTTPBodySkipper(.chunked, maxLineLength: 64, maxTrailerSize: 32)
        let trailers = Array(("0\r\n" + String(repeating: "A: b\r\n", count: 10) + "\r\n").utf8)
        guard case .malformed = trailers.withUnsafeBytes({ skipper.skip($0) }).outcome else {
            Issue.record("a 62-byte trailer section passed a 32-byte limit")
            return
        }
    }

    @Test func pipelinedRequestsWithBodies() {
        let stream = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
            + "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
            + "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n0\r\nT: 1\r\n\r\n"
            + "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
        let bytes = Array(stream.utf8)
        let walks = HTTPTestSupport.chunkings(of: bytes.count).map { HTTPTestSupport.walkRequests(bytes, plan: $0) }
        #expect(walks.allSatisfy { $0 == walks[0] })
        let targets = walks[0].compactMap { exchange -> String? in
            if case .request(let head) = exchange.head { return head.target }
            return nil
        }
        #expect(targets == ["/a", "/b", "/c", "/chat"])
        #expect(walks[0].map(\.body) == [.done, .done, .done, .done])
        #expect(walks[0].last?.end == bytes.count)
    }
}
