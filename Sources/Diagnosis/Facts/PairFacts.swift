/// What `wsdoctor compare` found between two captures of one connection, taken on each
/// side of an intermediary: the evidence pair rules (Rules/compare.yaml) read.
///
/// Absent (`FactContext.pair == nil`) for a single connection, so pair rules never match
/// outside a comparison.
public struct PairFacts: Sendable, Hashable {
    /// Differences found, of every kind.
    public var changes: Int = 0
    /// The kinds of those differences, each once, in the order first found.
    public var changeKinds: [String] = []
    /// The intermediary ended the connection on a leg: a close frame or FIN/RST that no
    /// endpoint had sent.
    public var endedByIntermediary = false
    /// Seconds without a byte on the leg before the intermediary ended it.
    public var intermediaryIdleBefore: Double?
    /// Extensions the client offered near the client, and those that reached the server.
    public var extensionsOfferedNearClient: String?
    public var extensionsOfferedNearServer: String?
    /// Extensions accepted in the answer, as each leg saw it.
    public var extensionsAcceptedNearClient: String?
    public var extensionsAcceptedNearServer: String?
    /// A close frame an endpoint sent arrived with another code or reason.
    public var closeRewritten = false
    /// A close frame an endpoint sent never reached the other endpoint.
    public var closeLost = false
    /// The first close code seen on each leg (absent: no close frame, or one without a code).
    public var closeCodeNearClient: Int?
    public var closeCodeNearServer: Int?
    /// Messages whose payload differs between the legs (size, or text that became invalid UTF-8).
    public var payloadAltered = 0
    /// Pongs (or pings) on one leg that the other leg never carried: the intermediary
    /// answered keepalives itself.
    public var keepaliveAnsweredBetween = false
    /// Pairs the intermediary ended within 2 s of this one (this one included): many at once
    /// is a reload or restart of the intermediary.
    public var endedTogether = 1

    public init() {}

    /// Common intermediary idle timeouts, by seconds, with who defaults to them.
    public static let idleTimeoutDefaults: [(seconds: Double, names: String)] = [
        (30, "GCP load balancer backend service timeout (30 s)"),
        (60, "nginx proxy_read_timeout (60 s) or AWS ALB idle timeout (60 s)"),
        (100, "Cloudflare (100 s)"),
        (240, "Azure Load Balancer idle timeout (4 min)"),
        (350, "AWS NLB idle timeout (350 s)"),
        (600, "AWS API Gateway WebSocket idle timeout (10 min)"),
        (3600, "HAProxy timeout tunnel as commonly set (1 h)"),
    ]

    /// The defaults `intermediaryIdleBefore` matches within 2 s, or nil.
    public var idleTimeoutMatch: String? {
        guard let idle = intermediaryIdleBefore else { return nil }
        return Self.idleTimeoutDefaults.first { abs($0.seconds - idle) <= 2 }?.names
    }
}
