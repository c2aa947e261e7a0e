/// The opening handshake rules of RFC 6455 §4 and the permessage-deflate negotiation of RFC 7692 §7.1.
///
/// `validate(request:)` applies the server's checks to a request (issues on the
/// client side); `evaluate(request:response:)` applies the client's checks to
/// the response (issues on the server side). They never repeat each other's issues.
public enum WebSocketHandshake {
    /// The GUID appended to the key before hashing (RFC 6455 §1.3).
    public static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// base64(SHA-1(key + guid)), the expected `Sec-WebSocket-Accept` for `key`.
    ///
    /// `key` is used as given; pass the header value with surrounding whitespace trimmed.
    public static func acceptValue(forKey key: String) -> String {
        Base64.encode(SHA1.hash((key + guid).utf8))
    }

    /// Whether `head` is an attempt at an HTTP/1.1 WebSocket upgrade at all, however broken.
    ///
    /// True when `Upgrade` lists `websocket`, or when the request carries
    /// `Sec-WebSocket-Key` (a client that forgot the Upgrade header). The method,
    /// `Connection` and the rest are checked by `validate(request:)`, not here.
    public static func isUpgradeRequest(_ head: HTTPRequestHead) -> Bool {
        head.headers.contains("Upgrade", token: "websocket") || head.headers["Sec-WebSocket-Key"] != nil
    }

    /// The server-side checks of RFC 6455 §4.2.1, plus the offer rules of RFC 7692 §7.1.
    ///
    /// Every issue is on the client side.
    public static func validate(request: HTTPRequestHead) -> [HandshakeIssue] {
        var issues: [HandshakeIssue] = []
        func malformed(_ detail: String) {
            issues.append(HandshakeIssue(side: .client, kind: .handshakeMalformed, detail: detail))
        }
        let headers = request.headers

        if request.method != "GET" {
            malformed("method is \(request.method), must be GET")
        }
        if !isAtLeastHTTP11(request.version) {
            malformed("\(request.version) request, HTTP/1.1 or later is required")
        }
        switch headers.count(of: "Host") {
        case 0: malformed("no Host header")
        case 1: break
        case let n: malformed("Host header sent \(n) times")
        }
        if !headers.contains("Upgrade", token: "websocket") {
            malformed(headers["Upgrade"].map { "Upgrade is \"\($0)\", must list websocket" } ?? "no Upgrade header")
        }
        if !headers.contains("Connection", token: "upgrade") {
            malformed(headers["Connection"].map { "Connection is \"\($0)\", must list Upgrade" } ?? "no Connection header")
        }

        let keys = headers.values("Sec-WebSocket-Key")
        switch keys.count {
        case 0:
            malformed("no Sec-WebSocket-Key header")
        case 1:
            if Base64.decode(keys[0])?.count != 16 {
                malformed("Sec-WebSocket-Key \"\(keys[0])\" is not the base64 of 16 bytes")
            }
        default:
            malformed("Sec-WebSocket-Key sent \(keys.count) times")
        }

        let versions = headers.values("Sec-WebSocket-Version")
        if versions.isEmpty {
            malformed("no Sec-WebSocket-Version header")
        } else if versions != ["13"] {
            issues.append(HandshakeIssue(
                side: .client, kind: .unsupportedVersion,
                detail: "Sec-WebSocket-Version is \(versions.joined(separator: ", ")), must be 13"))
        }

        var seenProtocols: Set<String> = []
        for name in headers.values("Sec-WebSocket-Protocol") {
            if !HTTPSyntax.isToken(name) {
                malformed("subprotocol \"\(name)\" is not a token")
            } else if !seenProtocols.insert(name).inserted {
                malformed("subprotocol \(name) offered twice")
            }
        }

        var problems: [String] = []
        let offers = ExtensionHeader.parse(headers.values("Sec-WebSocket-Extensions"), problems: &problems)
        for problem in problems { malformed(problem) }
        for offer in offers where isDeflate(offer) {
            for problem in PerMessageDeflateParameters.parse(offer, in: .offer).problems {
                issues.append(HandshakeIssue(
                    side: .client, kind: .extensionParametersInvalid,
                    detail: "permessage-deflate offer \"\(offer)\": \(problem)"))
            }
        }
        return issues
    }

    /// The client-side checks of RFC 6455 §4.1 and RFC 7692 §7.1 on `response` to `request`.
    ///
    /// Every issue is on the server side; the request's own issues come from
    /// `validate(request:)`. A response other than 101 is a refusal, not an
    /// issue: it yields `upgraded == false` and no issues. With `request` nil (a request
    /// head too large to read), only what the response alone decides is checked.
    public static func evaluate(request: HTTPRequestHead?, response: HTTPResponseHead) -> HandshakeOutcome {
        var outcome = HandshakeOutcome(upgraded: false, status: response.status)
        guard response.status == 101 else { return outcome }
        func issue(_ kind: ViolationKind, _ detail: String) {
            outcome.issues.append(HandshakeIssue(side: .server, kind: kind, detail: detail))
        }
        let headers = response.headers

        let upgradeCount = headers.count(of: "Upgrade")
        let upgradesToWebSocket = headers.contains("Upgrade", token: "websocket")
        if upgradeCount == 0 {
            issue(.handshakeMalformed, "101 response without an Upgrade header")
        } else if !upgradesToWebSocket {
            issue(.handshakeMalformed, "101 response upgrades to \"\(headers["Upgrade"] ?? "")\", not websocket")
        }
        if !headers.contains("Connection", token: "upgrade") {
            issue(.handshakeMalformed, headers["Connection"].map {
                "Connection is \"\($0)\", must list Upgrade"
            } ?? "101 response without a Connection header")
        }

        let accepts = headers.values("Sec-WebSocket-Accept")
        let keys = request?.headers.values("Sec-WebSocket-Key") ?? []
        switch (accepts.count, keys.count) {
        case (1, _) where request == nil:
            break
        case (0, _):
            issue(.acceptMismatch, "no Sec-WebSocket-Accept header")
        case (1, 1):
            let expected = acceptValue(forKey: keys[0])
            if accepts[0] != expected {
                issue(.acceptMismatch, "Sec-WebSocket-Accept is \(accepts[0]), expected \(expected) for key \(keys[0])")
            }
        case (1, 0):
            issue(.handshakeMalformed, "server accepted a request that had no Sec-WebSocket-Key")
        case (1, _):
            issue(.handshakeMalformed, "server accepted a request with \(keys.count) Sec-WebSocket-Key headers")
        case (let n, _):
            issue(.acceptMismatch, "Sec-WebSocket-Accept sent \(n) times")
        }
        outcome.upgraded = upgradesToWebSocket || (upgradeCount == 0 && !accepts.isEmpty)

        let offeredProtocols = request?.headers.values("Sec-WebSocket-Protocol") ?? []
        let selectedProtocols = headers.values("Sec-WebSocket-Protocol")
        switch selectedProtocols.count {
        case 0:
            break
        case 1:
            let selected = selectedProtocols[0]
            outcome.subprotocol = selected
            if request != nil && !offeredProtocols.contains(selected) {
                issue(.subprotocolNotOffered, offeredProtocols.isEmpty
                    ? "server selected subprotocol \(selected) but the client offered none"
                    : "server selected subprotocol \(selected), client offered \(offeredProtocols.joined(separator: ", "))")
            }
        default:
            issue(.subprotocolNotOffered, "server selected several subprotocols: \(selectedProtocols.joined(separator: ", "))")
        }

        evaluateExtensions(request: request, response: response, into: &outcome)
        return outcome
    }

    private static func evaluateExtensions(request: HTTPRequestHead?, response: HTTPResponseHead, into outcome: inout HandshakeOutcome) {
        func issue(_ kind: ViolationKind, _ detail: String) {
            outcome.issues.append(HandshakeIssue(side: .server, kind: kind, detail: detail))
        }
        var problems: [String] = []
        let accepted = ExtensionHeader.parse(response.headers.values("Sec-WebSocket-Extensions"), problems: &problems)
        for problem in problems { issue(.handshakeMalformed, problem) }
        outcome.extensions = accepted

        // The request was checked by validate(request:); here it only says what was offered.
        let offers = ExtensionHeader.parse(request?.headers.values("Sec-WebSocket-Extensions") ?? [])
        for element in accepted where request != nil && !offers.contains(where: { HTTPSyntax.equalsIgnoringCase($0.name, element.name) }) {
            issue(.extensionNotOffered, "server accepted extension \(element.name), which the client did not offer")
        }

        let acceptedDeflate = accepted.filter(isDeflate)
        guard let answer = acceptedDeflate.first else { return }
        if acceptedDeflate.count > 1 {
            // Two instances would both claim RSV1 (RFC 7692 §5).
            issue(.extensionParametersInvalid, "permessage-deflate accepted \(acceptedDeflate.count) times")
        }
        let (parameters, responseProblems) = PerMessageDeflateParameters.parse(answer, in: .response)
        outcome.deflate = parameters
        for problem in responseProblems {
            issue(.extensionParametersInvalid, "permessage-deflate response \"\(answer)\": \(problem)")
        }
        guard request != nil else { return }

        // The server accepts one of possibly several offers (RFC 7692 §5.1); it is
        // right if the response is a valid answer to any valid one.
        let validOffers = offers.filter(isDeflate)
            .map { PerMessageDeflateParameters.parse($0, in: .offer) }
            .filter { $0.problems.isEmpty }
            .map(\.parameters)
        guard !validOffers.isEmpty else {
            if offers.contains(where: isDeflate) {
                issue(.extensionParametersInvalid, "server accepted permessage-deflate although every offer of it was invalid")
            }
            return
        }
        let mismatches = validOffers.map { PerMessageDeflateParameters.problems(accepting: $0, with: parameters) }
        if let closest = mismatches.min(by: { $0.count < $1.count }), !closest.isEmpty {
            for problem in closest {
                issue(.extensionParametersInvalid, "permessage-deflate response \"\(answer)\": \(problem)")
            }
        }
    }

    private static func isDeflate(_ element: ExtensionOffer) -> Bool {
        HTTPSyntax.equalsIgnoringCase(element.name, PerMessageDeflateParameters.extensionName)
    }

    /// "HTTP/x.y" with x.y ≥ 1.1; the parser has already checked the shape.
    private static func isAtLeastHTTP11(_ version: String) -> Bool {
        let bytes = Array(version.utf8)
        guard bytes.count == 8, version.hasPrefix("HTTP/") else { return false }
        let major = Int(bytes[5]) - 48
        let minor = Int(bytes[7]) - 48
        return major > 1 || (major == 1 && minor >= 1)
    }
}
