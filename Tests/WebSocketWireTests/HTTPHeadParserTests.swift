import Testing
import WebSocketWire

@Suite struct HTTPHeadParserTests {
    private func parseOne(_ text: String, kind: HTTPHeadParser.Kind = .request, maxHeadSize: Int = 16 * 1024) -> HTTPHeadParser.Outcome? {
        let (result, allSame) = HTTPTestSupport.parseHeadsEveryWay(Array(text.utf8), kind: kind, maxHeadSize: maxHeadSize)
        #expect(allSame, "chunking changed the outcome of \(text.debugDescription)")
        return result.outcomes.first
    }

    private func isMalformed(_ outcome: HTTPHeadParser.Outcome?) -> Bool {
        if case .malformed = outcome { return true }
        return false
    }

    @Test func parsesARequest() {
        let text = "GET /chat?room=1 HTTP/1.1\r\nHost: server.example.com\r\nUpgrade:websocket\r\nX-Empty:\r\nX-Pad: \t padded \t\r\n\r\n"
        let expected = HTTPRequestHead(method: "GET", target: "/chat?room=1", version: "HTTP/1.1", headers: [
            "Host": "server.example.com", "Upgrade": "websocket", "X-Empty": "", "X-Pad": "padded",
        ])
        #expect(parseOne(text) == .request(expected))
    }

    @Test func parsesResponsesWithAndWithoutReason() {
        #expect(parseOne("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", kind: .response)
            == .response(HTTPResponseHead(status: 101, reason: "Switching Protocols", headers: ["Upgrade": "websocket"])))
        #expect(parseOne("HTTP/1.0 200 \r\n\r\n", kind: .response) == .response(HTTPResponseHead(version: "HTTP/1.0", status: 200)))
        #expect(parseOne("HTTP/1.1 404\r\n\r\n", kind: .response) == .response(HTTPResponseHead(status: 404)))
    }

    @Test func acceptsBareLFLineEndings() {
        #expect(parseOne("GET / HTTP/1.1\nHost: a\n\n") == .request(HTTPRequestHead(method: "GET", target: "/", headers: ["Host": "a"])))
        #expect(parseOne("GET / HTTP/1.1\r\nHost: a\n\r\n") == .request(HTTPRequestHead(method: "GET", target: "/", headers: ["Host": "a"])))
    }

    @Test func skipsEmptyLinesBeforeARequestLine() {
        let text = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"
        let (result, allSame) = HTTPTestSupport.parseHeadsEveryWay(Array(text.utf8), kind: .request)
        #expect(allSame)
        #expect(result.outcomes == [.request(HTTPRequestHead(method: "GET", target: "/", headers: ["Host": "a"]))])
        #expect(result.endOffsets == [text.utf8.count])
        #expect(isMalformed(parseOne("\r\nHTTP/1.1 200 OK\r\n\r\n", kind: .response)))
    }

    @Test func stopsRightAfterTheBlankLine() {
        let head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
        let bytes = Array(head.utf8) + [0x81, 0x02, 0x68, 0x69]
        for plan in HTTPTestSupport.chunkings(of: bytes.count) {
            let result = HTTPTestSupport.parseHeads(bytes, kind: .response, plan: plan)
            // The frame bytes after the head are not a head: they are left for the frame decoder.
            #expect(result.endOffsets.first == head.utf8.count)
        }
    }

    @Test func pipelinedRequestsNeedOnlyAReset() {
        let text = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n\r\nHEAD /c HTTP/1.1\nHost: x\n\n"
        let (result, allSame) = HTTPTestSupport.parseHeadsEveryWay(Array(text.utf8), kind: .request)
        #expect(allSame)
        let targets = result.outcomes.compactMap { outcome -> String? in
            if case .request(let head) = outcome { return head.target }
            return nil
        }
        #expect(targets == ["/a", "/b", "/c"])
        #expect(result.endOffsets.last == text.utf8.count)
    }

    @Test func malformedHeads() {
        let requests = [
            "GET / HTTP/1.1\r\nHost: a\r\n  folded\r\n\r\n",     // obsolete line folding
            "GET / HTTP/1.1\r\n Host: a\r\n\r\n",                 // whitespace before the first header
            "GET / HTTP/1.1\r\nHost : a\r\n\r\n",                 // space before the colon
            "GET / HTTP/1.1\r\nHost a\r\n\r\n",                   // no colon
            "GET / HTTP/1.1\r\n: a\r\n\r\n",                      // empty name
            "GET / HTTP/1.1\r\nHo(st: a\r\n\r\n",                 // name not a token
            "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",               // bare CR
            "GET / HTTP/1.1\r\nHost: a\u{1}\r\n\r\n",             // control character
            "GET /  HTTP/1.1\r\n\r\n",                            // two spaces
            "GET / HTTP/1.1 x\r\n\r\n",                           // four parts
            "GET / HTTP/11\r\n\r\n",                              // bad version
            "GET / http/1.1\r\n\r\n",                             // version is case-sensitive
            "G@T / HTTP/1.1\r\n\r\n",                             // method not a token
            "\u{16}\u{3}\u{1}\u{0}\u{a5}\u{1}\n\n",                // a TLS ClientHello, roughly
        ]
        for text in requests {
            #expect(isMalformed(parseOne(text)), "\(text.debugDescription)")
        }
        let responses = [
            "HTTP/1.1 10 OK\r\n\r\n",
            "HTTP/1.1 1011 OK\r\n\r\n",
            "HTTP/1.1 abc OK\r\n\r\n",
            "HTTP/1.1200 OK\r\n\r\n",
            "SSH-2.0-OpenSSH_9.6\r\n\r\n",
            "HTTP/1.1 200 OK\u{7f}\r\n\r\n",
        ]
        for text in responses {
            #expect(isMalformed(parseOne(text, kind: .response)), "\(text.debugDescription)")
        }
    }

    @Test func malformedIsReportedAtTheOffendingLine() {
        // No need to wait for the end of the head, or for the limit, to reject garbage.
        let text = "HELLO\r\nmore garbage that never ends"
        let (result, allSame) = HTTPTestSupport.parseHeadsEveryWay(Array(text.utf8), kind: .request)
        #expect(allSame)
        #expect(result.endOffsets == [7])
    }

    @Test func limitCountsTheWholeHead() {
        let text = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"   // 27 bytes
        #expect(parseOne(text, maxHeadSize: 27) == .request(HTTPRequestHead(method: "GET", target: "/", headers: ["Host": "a"])))
        #expect(parseOne(text, maxHeadSize: 26) == .tooLarge(limit: 26))
        #expect(parseOne("\r\n" + text, maxHeadSize: 28) == .tooLarge(limit: 28))
        let endless = String(repeating: "\r\n", count: 20)
        #expect(parseOne(endless, maxHeadSize: 16) == .tooLarge(limit: 16))
        let longLine = "GET / HTTP/1.1\r\nX: " + String(repeating: "v", count: 100)
        let (result, _) = HTTPTestSupport.parseHeadsEveryWay(Array(longLine.utf8), kind: .request, maxHeadSize: 64)
        #expect(result.outcomes == [.tooLarge(limit: 64)])
        #expect(result.endOffsets == [65])
    }

    @Test func finalOutcomeRepeatsUntilReset() {
        var parser = HTTPHeadParser(kind: .request)
        let first = Array("GET / HTTP/1.1\r\n\r\n".utf8)
        let (consumed, outcome) = first.withUnsafeBytes { parser.parse($0) }
        #expect(consumed == first.count)
        #expect(outcome == .request(HTTPRequestHead(method: "GET", target: "/")))
        let again = first.withUnsafeBytes { parser.parse($0) }
        #expect(again.consumed == 0 && again.outcome == outcome)
        parser.reset()
        #expect(first.withUnsafeBytes { parser.parse($0) }.outcome == outcome)
    }

    @Test func needMoreDataConsumesEverything() {
        var parser = HTTPHeadParser(kind: .response)
        let partial = Array("HTTP/1.1 101 Switching".utf8)
        let (consumed, outcome) = partial.withUnsafeBytes { parser.parse($0) }
        #expect(consumed == partial.count && outcome == .needMoreData)
        let empty = [UInt8]().withUnsafeBytes { parser.parse($0) }
        #expect(empty.consumed == 0 && empty.outcome == .needMoreData)
    }
}
