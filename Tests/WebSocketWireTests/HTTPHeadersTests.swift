import Testing
import WebSocketWire

@Suite struct HTTPHeadersTests {
    @Test func lookupIsCaseInsensitiveAndReturnsTheFirstValue() {
        let headers: HTTPHeaders = ["Host": "a.example", "X-Dup": "1", "x-dup": "2"]
        #expect(headers["host"] == "a.example")
        #expect(headers["X-DUP"] == "1")
        #expect(headers["Missing"] == nil)
        #expect(headers.count(of: "x-dup") == 2)
    }

    @Test func orderAndSpellingAreKept() {
        let headers = HTTPHeaders([("B", "2"), ("a", "1"), ("B", "3")])
        #expect(headers.map(\.name) == ["B", "a", "B"])
        #expect(headers.map(\.value) == ["2", "1", "3"])
    }

    @Test func listHeadersAreSplitOnCommasAcrossLines() {
        let headers: HTTPHeaders = [
            "Sec-WebSocket-Protocol": "chat, , superchat ",
            "sec-websocket-protocol": "v3",
            "Sec-WebSocket-Extensions": "x; a=\"1,2\", y",
        ]
        #expect(headers.values("Sec-WebSocket-Protocol") == ["chat", "superchat", "v3"])
        #expect(headers.values("Sec-WebSocket-Extensions") == ["x; a=\"1,2\"", "y"])
    }

    @Test func otherHeadersKeepTheirCommas() {
        let headers: HTTPHeaders = ["Date": "Wed, 25 Nov 2026 01:48:52 GMT", "Set-Cookie": "a=1; Expires=Wed, 25 Nov 2026", "set-cookie": "b=2"]
        #expect(headers.values("date") == ["Wed, 25 Nov 2026 01:48:52 GMT"])
        #expect(headers.values("Set-Cookie") == ["a=1; Expires=Wed, 25 Nov 2026", "b=2"])
    }

    @Test func tokenMembership() {
        let headers: HTTPHeaders = ["Connection": "keep-alive, Upgrade", "Upgrade": "WebSocket"]
        #expect(headers.contains("connection", token: "upgrade"))
        #expect(headers.contains("Connection", token: "Keep-Alive"))
        #expect(!headers.contains("Connection", token: "close"))
        #expect(headers.contains("Upgrade", token: "websocket"))
        #expect(!headers.contains("Upgrade", token: "web"))
    }
}
