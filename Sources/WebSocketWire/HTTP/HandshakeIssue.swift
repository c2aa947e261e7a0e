/// One problem with the opening handshake, and the endpoint responsible.
public struct HandshakeIssue: Sendable, Hashable {
    /// The endpoint that broke the rule.
    public var side: Side
    /// Which rule; `kind.rfc` says where it is written.
    public var kind: ViolationKind
    /// What exactly was wrong, with the offending value.
    public var detail: String

    public init(side: Side, kind: ViolationKind, detail: String) {
        self.side = side
        self.kind = kind
        self.detail = detail
    }
}
