import WebSocketWire

/// A direction of travel through the intermediary, named by the endpoint that sent.
public enum FlowDirection: String, Sendable, Hashable, CaseIterable {
    case clientToServer = "client-to-server"
    case serverToClient = "server-to-client"

    public init(sentBy side: Side) {
        self = side == .client ? .clientToServer : .serverToClient
    }

    /// The endpoint that sends in this direction.
    public var sender: Side { self == .clientToServer ? .client : .server }
    /// The leg the sender's bytes are on first.
    public var upstream: Leg { Leg.endpointLeg(of: sender) }
    /// The leg they reach after the intermediary.
    public var downstream: Leg { upstream.other }
}
