/// One of the proxy's own limits, as named in its metric's label and its log line.
public enum ProxyLimit: String, Sendable, CaseIterable {
    case headTimeout = "head_timeout"
    case upgradeTimeout = "upgrade_timeout"
    case maxConnections = "max_connections"
    /// The process ran out of descriptors (EMFILE, ENFILE) accepting a client or connecting its upstream.
    case descriptors
}
