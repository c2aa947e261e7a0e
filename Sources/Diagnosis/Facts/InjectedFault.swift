import WebSocketWire

/// A fault wsdoctor proxy injected into a connection on purpose (`--faults`, `--control`):
/// wsdoctor's own doing, never a peer's.
public struct InjectedFault: Sendable, Equatable {
    /// The fault's `id` in the faults file or the control API.
    public var id: String
    /// The action's name as written (`close`, `drop-pongs`…).
    public var action: String
    /// What was done, in words ("sent a close frame 1013 (overloaded) to the client").
    public var done: String
    /// When it was first done.
    public var at: Timestamp
    /// Whether this fault ended the connection (a close, a refusal, a reset).
    public var endedConnection: Bool
    /// The code of a close frame wsdoctor sent the client: to the client, the server closed.
    public var closeCodeToClient: UInt16?
    /// The HTTP answer wsdoctor gave the upgrade request instead of the server (`refuse`).
    public var refusal: Refusal?

    /// An upgrade refused by wsdoctor: to the client, the server's answer.
    public struct Refusal: Sendable, Equatable {
        public var status: Int
        /// The Retry-After sent, in seconds.
        public var retryAfter: Int?

        public init(status: Int, retryAfter: Int?) {
            self.status = status
            self.retryAfter = retryAfter
        }
    }

    public init(id: String, action: String, done: String, at: Timestamp, endedConnection: Bool, closeCodeToClient: UInt16? = nil,
                refusal: Refusal? = nil) {
        self.id = id
        self.action = action
        self.done = done
        self.at = at
        self.endedConnection = endedConnection
        self.closeCodeToClient = closeCodeToClient
        self.refusal = refusal
    }
}
