/// Which of a connection's faults fire when: on the upgrade request (refuse), on the 101,
/// after N data messages, or after S seconds.
public struct ConnectionFaultStateMachine: Sendable {
    public enum Action: Sendable, Equatable {
        /// Do the fault's action now.
        case fire(Fault)
        /// Call `timerFired(id:)` in this many seconds.
        case armTimer(Fault, seconds: Double)
    }

    private enum State: Sendable {
        case awaitingRequest
        case awaitingUpgrade(faults: [Fault])
        case upgraded(waiting: [Fault], messages: Int)
        case ended
    }

    private var state: State = .awaitingRequest

    public init() {}

    /// The upgrade request's head passed, and these faults apply; a refusal fires at once.
    public mutating func requestHead(faults: [Fault]) -> [Action] {
        switch state {
        case .awaitingRequest:
            if let refusal = faults.first(where: { if case .refuse = $0.action { return true } else { return false } }) {
                state = .ended
                return [.fire(refusal)]
            }
            state = .awaitingUpgrade(faults: faults)
            return []
        case .awaitingUpgrade, .upgraded, .ended:
            return []
        }
    }

    /// The server answered the upgrade request; faults fire only after a 101.
    public mutating func response(status: Int) -> [Action] {
        switch state {
        case .awaitingUpgrade(let faults):
            guard status == 101 else {
                // A keep-alive exchange before the upgrade: the next request is matched again.
                state = status < 200 ? state : .awaitingRequest
                return []
            }
            var actions: [Action] = []
            var waiting: [Fault] = []
            for fault in faults {
                switch fault.trigger {
                case .upgrade: actions.append(.fire(fault))
                case .afterSeconds(let seconds): actions.append(.armTimer(fault, seconds: seconds))
                case .afterMessages: waiting.append(fault)
                }
            }
            state = .upgraded(waiting: waiting, messages: 0)
            return actions
        case .awaitingRequest, .upgraded, .ended:
            return []
        }
    }

    /// A data message ended, from either side.
    public mutating func messageSeen() -> [Action] {
        switch state {
        case .upgraded(let waiting, let messages):
            let seen = messages + 1
            var due: [Action] = []
            var still: [Fault] = []
            for fault in waiting {
                if case .afterMessages(let count) = fault.trigger, count <= seen { due.append(.fire(fault)) } else { still.append(fault) }
            }
            state = .upgraded(waiting: still, messages: seen)
            return due
        case .awaitingRequest, .awaitingUpgrade, .ended:
            return []
        }
    }

    /// A timer armed for `fault` ran out.
    public mutating func timerFired(_ fault: Fault) -> [Action] {
        switch state {
        case .upgraded: return [.fire(fault)]
        case .awaitingRequest, .awaitingUpgrade, .ended: return []
        }
    }

    /// The connection ended, or a fault ended it: nothing more fires.
    public mutating func ended() {
        state = .ended
    }

    /// Whether the connection is upgraded and still open, so a fault can be done to it now.
    public var isUpgraded: Bool {
        switch state {
        case .upgraded: return true
        case .awaitingRequest, .awaitingUpgrade, .ended: return false
        }
    }
}
