/// When a fault fires on a connection it applies to.
public enum FaultTrigger: Sendable, Equatable {
    /// When the server's 101 passes (for `refuse`: on the upgrade request).
    case upgrade
    /// After this many data messages, from either side, once upgraded.
    case afterMessages(Int)
    /// This many seconds after the upgrade.
    case afterSeconds(Double)
}
