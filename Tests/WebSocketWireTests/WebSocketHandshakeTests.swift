import Testing
import WebSocketWire

@Suite struct WebSocketHandshakeTests {
    /// A handshake captured between Python websockets 17.4 client and server (a relay recorded the bytes).
    static let capturedRequest = "GET /chat?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8766\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: evTWWmsCdtxLx74RBwVKnA==\r\nSec-WebSocket-Version: 13\r\n"
        + "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        + "Sec-WebSocket-Protocol: chat.v1, chat.v2\r\nUser-Agent: Python/3.11 websockets/17.4\r\n\r\n"
    static let capturedResponse = "HTTP/1.1 101 Switching Protocols\r\nDate: Wed, 25 Nov 2026 01:48:54 GMT\r\n"
        + "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: DA9EMqKrpZ/9OOsVXbXJ/Umalns=\r\n"
        + "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12; client_max_window_bits=12\r\n"
        + "Sec-WebSocket-Protocol: chat.v2\r\nServer: Python/3.11 websockets/17.4\r\n\r\n"

    /// The RFC 6455 §1.3 key with a well-formed request around it.
    static let key = "dGhlIHNhbXBsZSBub25jZQ=="
    static let accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

    private func request(_ extra: HTTPHeaders = [:], removing: Set<String> = []) -> HTTPRequestHead {
        var headers = HTTPHeaders()
        let base: [(String, String)] = [
            ("Host", "server.example.com"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", Self.key), ("Sec-WebSocket-Version", "13"),
        ]
        for (name, value) in base where !removing.contains(name) { headers.add(name: name, value: value) }
        for (name, value) in extra { headers.add(name: name, value: value) }
        return HTTPRequestHead(method: "GET", target: "/chat", headers: headers)
    }

    private func response(_ extra: HTTPHeaders = [:], removing: Set<String> = [], status: Int = 101) -> HTTPResponseHead {
        var headers = HTTPHeaders()
        let base: [(String, String)] = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", Self.accept)]
        for (name, value) in base where !removing.contains(name) { headers.add(name: name, value: value) }
        for (name, value) in extra { headers.add(name: name, value: value) }
        return HTTPResponseHead(status: status, reason: "Switching Protocols", headers: headers)
    }

    private func kinds(_ issues: [HandshakeIssue]) -> [ViolationKind] { issues.map(\.kind) }

    private func offering(_ extensions: String) -> HTTPRequestHead { request(["Sec-WebSocket-Extensions": extensions]) }

    private func answering(_ extensions: String) -> HTTPResponseHead { response(["Sec-WebSocket-Extensions": extensions]) }

    // MARK: accept value

    @Test func acceptValueOfTheRFCExample() {
        #expect(WebSocketHandshake.acceptValue(forKey: Self.key) == Self.accept)
    }

    // MARK: a real handshake

    @Test func capturedPythonHandshake() throws {
        let (requests, sameRequests) = HTTPTestSupport.parseHeadsEveryWay(Array(Self.capturedRequest.utf8), kind: .request)
        let (responses, sameResponses) = HTTPTestSupport.parseHeadsEveryWay(Array(Self.capturedResponse.utf8), kind: .response)
        #expect(sameRequests && sameResponses)
        guard case .request(let head) = requests.outcomes.first, case .response(let answer) = responses.outcomes.first else {
            Issue.record("captured handshake did not parse: \(requests.outcomes) \(responses.outcomes)")
            return
        }
        #expect(WebSocketHandshake.isUpgradeRequest(head))
        #expect(WebSocketHandshake.validate(request: head) == [])
        let outcome = WebSocketHandshake.evaluate(request: head, response: answer)
        #expect(outcome.issues == [])
        #expect(outcome.upgraded && outcome.status == 101)
        #expect(outcome.subprotocol == "chat.v2")
        #expect(outcome.extensions.map(\.name) == ["permessage-deflate"])
        #expect(outcome.deflate == PerMessageDeflateParameters(serverMaxWindowBits: 12, clientMaxWindowBits: 12))
        #expect(outcome.deflate?.effectiveServerWindowBits == 12)
    }

    // MARK: requests

    @Test func recognisesUpgradeAttempts() {
        #expect(WebSocketHandshake.isUpgradeRequest(request()))
        #expect(WebSocketHandshake.isUpgradeRequest(request(removing: ["Connection"])))
        #expect(WebSocketHandshake.isUpgradeRequest(request(removing: ["Upgrade"])))   // key alone betrays the attempt
        #expect(!WebSocketHandshake.isUpgradeRequest(HTTPRequestHead(method: "GET", target: "/", headers: ["Host": "a"])))
        #expect(!WebSocketHandshake.isUpgradeRequest(HTTPRequestHead(method: "GET", target: "/", headers: ["Upgrade": "h2c"])))
    }

    @Test func aGoodRequestHasNoIssues() {
        #expect(WebSocketHandshake.validate(request: request()) == [])
        #expect(WebSocketHandshake.validate(request: request(["Sec-WebSocket-Protocol": "chat, superchat"])) == [])
    }

    @Test func eachRequestIssue() {
        var post = request()
        post.method = "POST"
        var old = request()
        old.version = "HTTP/1.0"
        var newer = request()
        newer.version = "HTTP/2.0"
        let cases: [(HTTPRequestHead, [ViolationKind])] = [
            (post, [.handshakeMalformed]),
            (old, [.handshakeMalformed]),
            (newer, []),
            (request(removing: ["Host"]), [.handshakeMalformed]),
            (request(["Host": "other"]), [.handshakeMalformed]),
            (request(removing: ["Upgrade"]), [.handshakeMalformed]),
            (request(removing: ["Connection"]), [.handshakeMalformed]),
            (request(removing: ["Sec-WebSocket-Key"]), [.handshakeMalformed]),
            (request(["Sec-WebSocket-Key": Self.key]), [.handshakeMalformed]),
            (request(removing: ["Sec-WebSocket-Version"]), [.handshakeMalformed]),
            (request(removing: ["Sec-WebSocket-Version"]).with("Sec-WebSocket-Version", "8"), [.unsupportedVersion]),
            (request(["Sec-WebSocket-Version": "8"]), [.unsupportedVersion]),
            (request(["Sec-WebSocket-Protocol": "chat, chat"]), [.handshakeMalformed]),
            (request(["Sec-WebSocket-Protocol": "a/b"]), [.handshakeMalformed]),
            (offering("permessage-deflate; server_max_window_bits=7"), [.extensionParametersInvalid]),
            (offering("permessage-deflate; client_max_window_bits=08"), [.extensionParametersInvalid]),
            (offering("permessage-deflate; server_max_window_bits"), [.extensionParametersInvalid]),
            (offering("permessage-deflate; server_no_context_takeover=1"), [.extensionParametersInvalid]),
            (offering("permessage-deflate; mux"), [.extensionParametersInvalid]),
            (offering("permessage-deflate; client_no_context_takeover; client_no_context_takeover"), [.extensionParametersInvalid]),
            (offering("permessage-deflate; x=\"a b\""), [.handshakeMalformed]),
        ]
        for (head, expected) in cases {
            let issues = WebSocketHandshake.validate(request: head)
            #expect(kinds(issues) == expected, "\(head.method) \(head.version) \(Array(head.headers)): \(issues)")
            #expect(issues.allSatisfy { $0.side == .client })
        }
    }

    @Test func keyMustBeBase64OfSixteenBytes() {
        for key in ["", "abc", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZXg=", "dGhlIHNhbXBsZSBub25jZR=="] {
            var head = request(removing: ["Sec-WebSocket-Key"])
            head.headers.add(name: "Sec-WebSocket-Key", value: key)
            #expect(kinds(WebSocketHandshake.validate(request: head)) == [.handshakeMalformed], "\(key)")
        }
    }

    // MARK: responses

    @Test func aGoodResponse() {
        let outcome = WebSocketHandshake.evaluate(request: request(), response: response())
        #expect(outcome == HandshakeOutcome(upgraded: true, status: 101))
        // Header names and the Upgrade/Connection tokens are case-insensitive.
        let shouting = HTTPResponseHead(status: 101, headers: ["UPGRADE": "WebSocket", "connection": "keep-alive, upgrade", "sec-websocket-accept": Self.accept])
        #expect(WebSocketHandshake.evaluate(request: request(), response: shouting).issues == [])
    }

    @Test func refusalIsNotAnIssue() {
        let outcome = WebSocketHandshake.evaluate(request: request(), response: HTTPResponseHead(status: 403, reason: "Forbidden"))
        #expect(outcome == HandshakeOutcome(upgraded: false, status: 403))
    }

    @Test func eachResponseIssue() {
        let cases: [(HTTPRequestHead, HTTPResponseHead, [ViolationKind], Bool)] = [
            (request(), response(removing: ["Upgrade"]), [.handshakeMalformed], true),
            (request(), response(removing: ["Upgrade"]).with("Upgrade", "h2c"), [.handshakeMalformed], false),
            (request(), response(removing: ["Upgrade", "Sec-WebSocket-Accept"]), [.handshakeMalformed, .acceptMismatch], false),
            (request(), response(removing: ["Connection"]), [.handshakeMalformed], true),
            (request(), response(removing: ["Sec-WebSocket-Accept"]), [.acceptMismatch], true),
            (request(), response(removing: ["Sec-WebSocket-Accept"]).with("Sec-WebSocket-Accept", "AAAAAAAAAAAAAAAAAAAAAAAAAAA="), [.acceptMismatch], true),
            (request(), response(["Sec-WebSocket-Accept": Self.accept]), [.acceptMismatch], true),
            (request(removing: ["Sec-WebSocket-Key"]), response(), [.handshakeMalformed], true),
            (request(), response(["Sec-WebSocket-Protocol": "chat"]), [.subprotocolNotOffered], true),
            (request(["Sec-WebSocket-Protocol": "chat"]), response(["Sec-WebSocket-Protocol": "Chat"]), [.subprotocolNotOffered], true),
            (request(["Sec-WebSocket-Protocol": "a, b"]), response(["Sec-WebSocket-Protocol": "a, b"]), [.subprotocolNotOffered], true),
            (request(), answering("permessage-deflate"), [.extensionNotOffered], true),
            (offering("permessage-deflate"), answering("x-webkit-deflate-frame"), [.extensionNotOffered], true),
            (offering("permessage-deflate"), answering("permessage-deflate; bogus"), [.extensionParametersInvalid], true),
            (offering("permessage-deflate"), answering("permessage-deflate, permessage-deflate"), [.extensionParametersInvalid], true),
            (offering("permessage-deflate"), answering("permessage-deflate; x=\"a b\""), [.handshakeMalformed], true),
        ]
        for (head, answer, expected, upgraded) in cases {
            let outcome = WebSocketHandshake.evaluate(request: head, response: answer)
            #expect(kinds(outcome.issues) == expected, "\(Array(head.headers)) → \(Array(answer.headers)): \(outcome.issues)")
            #expect(outcome.upgraded == upgraded, "\(Array(answer.headers))")
            #expect(outcome.issues.allSatisfy { $0.side == .server })
        }
    }

    @Test func selectedSubprotocolIsReported() {
        let outcome = WebSocketHandshake.evaluate(request: request(["Sec-WebSocket-Protocol": "chat, superchat"]),
                                                  response: response(["Sec-WebSocket-Protocol": "superchat"]))
        #expect(outcome.subprotocol == "superchat" && outcome.issues == [])
    }

    // MARK: permessage-deflate negotiation (RFC 7692 §7.1)

    @Test func rfc7692Negotiations() {
        let fallback = "permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate; client_max_window_bits"
        let good: [(String, String, PerMessageDeflateParameters)] = [
            ("permessage-deflate", "permessage-deflate", .init()),
            // §7.1.1.1: the server may add server_no_context_takeover unasked; client_no_context_takeover is always allowed.
            ("permessage-deflate", "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
             .init(serverNoContextTakeover: true, clientNoContextTakeover: true)),
            // §7.1.2.1: the server may limit its own window unasked, or go below the offered limit.
            ("permessage-deflate", "permessage-deflate; server_max_window_bits=10", .init(serverMaxWindowBits: 10)),
            ("permessage-deflate; server_max_window_bits=10", "permessage-deflate; server_max_window_bits=8", .init(serverMaxWindowBits: 8)),
            // §7.1.2.2: client_max_window_bits, offered without a value, can be answered with any.
            ("permessage-deflate; client_max_window_bits", "permessage-deflate; client_max_window_bits=10", .init(clientMaxWindowBits: 10)),
            ("permessage-deflate; client_max_window_bits=12", "permessage-deflate; client_max_window_bits=\"9\"", .init(clientMaxWindowBits: 9)),
            // Either of two offers may be accepted.
            (fallback, "permessage-deflate; server_max_window_bits=10", .init(serverMaxWindowBits: 10)),
            (fallback, "permessage-deflate", .init()),
            (fallback, "permessage-deflate; client_max_window_bits=15", .init(clientMaxWindowBits: 15)),
            // An invalid offer next to a valid one does not taint the valid one.
            ("permessage-deflate; mux, permessage-deflate", "permessage-deflate", .init()),
        ]
        for (offer, answer, expected) in good {
            let outcome = WebSocketHandshake.evaluate(request: offering(offer), response: answering(answer))
            #expect(outcome.issues == [], "\(offer) → \(answer)")
            #expect(outcome.deflate == expected, "\(offer) → \(answer)")
        }
    }

    @Test func rfc7692NegotiationFailures() {
        let bad: [(String, String)] = [
            ("permessage-deflate", "permessage-deflate; client_max_window_bits=10"),          // not offered
            ("permessage-deflate", "permessage-deflate; client_max_window_bits"),             // needs a value in a response
            ("permessage-deflate; client_max_window_bits=10", "permessage-deflate; client_max_window_bits=11"),
            ("permessage-deflate; server_max_window_bits=10", "permessage-deflate"),          // must echo the limit
            ("permessage-deflate; server_max_window_bits=10", "permessage-deflate; server_max_window_bits=11"),
            ("permessage-deflate; server_no_context_takeover", "permessage-deflate"),         // must echo it
            ("permessage-deflate", "permessage-deflate; server_max_window_bits=16"),
            ("permessage-deflate", "permessage-deflate; server_max_window_bits=7"),
            ("permessage-deflate", "permessage-deflate; server_no_context_takeover; server_no_context_takeover"),
            ("permessage-deflate", "permessage-deflate; client_no_context_takeover=yes"),
            ("permessage-deflate; server_max_window_bits=16", "permessage-deflate"),          // only an invalid offer
        ]
        for (offer, answer) in bad {
            let outcome = WebSocketHandshake.evaluate(request: offering(offer), response: answering(answer))
            #expect(kinds(outcome.issues) == [.extensionParametersInvalid], "\(offer) → \(answer): \(outcome.issues)")
            #expect(outcome.deflate != nil, "the server's frames are compressed whatever was wrong")
        }
    }

    @Test func deflateIsReadLeniently() {
        let outcome = WebSocketHandshake.evaluate(request: offering("permessage-deflate"),
                                                  response: answering("permessage-deflate; server_max_window_bits=99; client_no_context_takeover"))
        #expect(outcome.deflate == PerMessageDeflateParameters(clientNoContextTakeover: true))
        #expect(outcome.issues.first?.detail.contains("server_max_window_bits") == true)
    }
}

extension HTTPRequestHead {
    fileprivate func with(_ name: String, _ value: String) -> HTTPRequestHead {
        var copy = self
        copy.headers.add(name: name, value: value)
        return copy
    }
}

extension HTTPResponseHead {
    fileprivate func with(_ name: String, _ value: String) -> HTTPResponseHead {
        var copy = self
        copy.headers.add(name: name, value: value)
        return copy
    }
}
