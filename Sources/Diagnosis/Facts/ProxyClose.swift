/// wsdoctor proxy closed a connection itself: why, and what it sent each side.
public struct ProxyClose: Sendable, Equatable {
    public enum Reason: String, Sendable {
        /// The proxy shut down after its drain timeout.
        case shutdown
        /// The client did not complete its request head within --head-timeout.
        case headTimeout = "head-timeout"
        /// The upstream did not answer the upgrade within --upgrade-timeout.
        case upgradeTimeout = "upgrade-timeout"
        /// A fault injected on purpose (--faults, --control) ended it.
        case fault
        /// Connecting the upstream failed with EMFILE or ENFILE: wsdoctor's own descriptors ran out.
        case outOfDescriptors = "out-of-descriptors"
    }

    public var reason: Reason
    /// What the client was sent, in words ("a close frame 1012 (service restart)", "HTTP 408 Request Timeout"…).
    public var sentToClient: String
    /// What the server was sent, in words.
    public var sentToServer: String

    public init(reason: Reason, sentToClient: String, sentToServer: String) {
        self.reason = reason
        self.sentToClient = sentToClient
        self.sentToServer = sentToServer
    }
}
