import WebSocketWire

/// Which of the two captures: taken near the client, or near the server.
public enum Leg: String, Sendable, Hashable, CaseIterable {
    case nearClient = "near_client"
    case nearServer = "near_server"

    /// The leg on which `side` is the real endpoint (the other leg carries the intermediary
    /// in its place).
    public static func endpointLeg(of side: Side) -> Leg {
        side == .client ? .nearClient : .nearServer
    }

    public var other: Leg { self == .nearClient ? .nearServer : .nearClient }

    /// As people say it: "near-client".
    public var spoken: String { self == .nearClient ? "near-client" : "near-server" }
}
