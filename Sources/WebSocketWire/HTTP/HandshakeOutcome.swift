/// What the response to a WebSocket upgrade request established.
public struct HandshakeOutcome: Sendable, Hashable {
    /// The bytes after the response are WebSocket frames.
    ///
    /// True for a 101 with `Upgrade: websocket`, or a 101 with no Upgrade header
    /// but a `Sec-WebSocket-Accept`, even when issues were found — the peers may
    /// go on to exchange frames, and those must still be decoded.
    public var upgraded: Bool
    /// The response's status code.
    public var status: Int
    /// The subprotocol the server selected, as sent, even if it was not offered.
    public var subprotocol: String?
    /// The extensions the server's response lists, in order, as sent.
    public var extensions: [ExtensionOffer]
    /// The permessage-deflate configuration the server's response puts in force, if any.
    ///
    /// Read leniently: set whenever the server accepted permessage-deflate, even
    /// with issues, because its frames will then be compressed.
    public var deflate: PerMessageDeflateParameters?
    /// What the server's response did wrong (the request's problems come from `WebSocketHandshake.validate(request:)`).
    public var issues: [HandshakeIssue]

    public init(
        upgraded: Bool,
        status: Int,
        subprotocol: String? = nil,
        extensions: [ExtensionOffer] = [],
        deflate: PerMessageDeflateParameters? = nil,
        issues: [HandshakeIssue] = []
    ) {
        self.upgraded = upgraded
        self.status = status
        self.subprotocol = subprotocol
        self.extensions = extensions
        self.deflate = deflate
        self.issues = issues
    }
}
