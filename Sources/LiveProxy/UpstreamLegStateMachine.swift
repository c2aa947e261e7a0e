/// Whether a client's upstream leg may still be used, as the client and the upstream
/// connection each settle in their own time.
///
/// The client can go away (a reset, a close) while the upstream is still connecting; the
/// upstream leg must then be closed at once, never paired with a client that is gone
/// (whose end could never close it).
struct UpstreamLegStateMachine: Sendable {
    private enum State: Sendable {
        /// The upstream is connecting (or finishing TLS); the client is there.
        case connecting
        /// The client went away before the upstream was ready.
        case clientGone
        /// Both legs are relaying.
        case paired
        /// The upstream could not be reached.
        case failed
    }

    private var state = State.connecting

    enum ClientClosedAction: Sendable, Equatable {
        /// Close (or abort the connecting of) the upstream leg, and end the session.
        case closeUpstream
        case none
    }

    enum UpstreamReadyAction: Sendable, Equatable {
        /// Pair the two legs and start reading the client.
        case pair
        /// The client is gone: close the upstream leg now.
        case closeUpstream
    }

    enum UpstreamFailedAction: Sendable, Equatable {
        /// Answer the client that its upstream cannot be reached.
        case refuseClient
        /// The client is gone already; nobody to answer.
        case none
    }

    mutating func clientClosed() -> ClientClosedAction {
        switch state {
        case .connecting:
            state = .clientGone
            return .closeUpstream
        case .clientGone, .paired, .failed:
            return .none
        }
    }

    mutating func upstreamReady() -> UpstreamReadyAction {
        switch state {
        case .connecting:
            state = .paired
            return .pair
        case .clientGone, .paired, .failed:
            return .closeUpstream
        }
    }

    mutating func upstreamFailed() -> UpstreamFailedAction {
        switch state {
        case .connecting:
            state = .failed
            return .refuseClient
        case .clientGone, .paired, .failed:
            return .none
        }
    }
}
