import WebSocketWire

/// One difference between the two legs of a pair.
public struct Change: Sendable, Hashable {
    /// Stable names, documented in README.md ("wsdoctor compare").
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case extensionsRewritten = "extensions-rewritten"
        case subprotocolRewritten = "subprotocol-rewritten"
        case headerRewritten = "header-rewritten"
        case statusRewritten = "status-rewritten"
        case reframed
        case remasked
        case recompressed
        case payloadAltered = "payload-altered"
        case messageDropped = "message-dropped"
        case messageInjected = "message-injected"
        case controlDropped = "control-dropped"
        case controlInjected = "control-injected"
        case closeRewritten = "close-rewritten"
        case closeDropped = "close-dropped"
        case closeInjected = "close-injected"
        case closedByIntermediary = "closed-by-intermediary"
    }

    public var kind: Kind
    public var direction: FlowDirection
    /// Frame index (in the sender's stream) on each leg; nil where the frame is absent or
    /// the change concerns the handshake or TCP.
    public var nearClientFrame: Int?
    public var nearServerFrame: Int?
    /// When it happened, on the near-client capture's clock.
    public var at: Timestamp
    /// What changed, for a person; never payload bytes.
    public var detail: String

    public init(kind: Kind, direction: FlowDirection, nearClientFrame: Int? = nil, nearServerFrame: Int? = nil,
                at: Timestamp, detail: String) {
        self.kind = kind
        self.direction = direction
        self.nearClientFrame = nearClientFrame
        self.nearServerFrame = nearServerFrame
        self.at = at
        self.detail = detail
    }

    /// Sets the frame index on `leg`.
    mutating func setFrame(_ index: Int?, on leg: Leg) {
        if leg == .nearClient { nearClientFrame = index } else { nearServerFrame = index }
    }
}
