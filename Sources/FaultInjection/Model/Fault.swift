/// One fault to inject (`--faults FILE`, `--control`): what to do, to which connections,
/// when, and to how many.
public struct Fault: Sendable, Equatable {
    public var id: String
    public var action: FaultAction
    public var match: FaultMatch
    public var trigger: FaultTrigger
    /// The first `count` connections it matches; nil: every one.
    public var count: Int?

    public init(id: String, action: FaultAction, match: FaultMatch = FaultMatch(), trigger: FaultTrigger = .upgrade, count: Int? = nil) {
        self.id = id
        self.action = action
        self.match = match
        self.trigger = trigger
        self.count = count
    }
}
