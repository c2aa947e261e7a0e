import WebSocketWire

/// What a fault does to a connection, with its parameters.
public enum FaultAction: Sendable, Equatable {
    /// A close frame with `code` and `reason` at a frame boundary; the relay then completes
    /// the close handshake with each side it closed, as an endpoint would.
    case close(code: UInt16, reason: String, toward: Toward)
    /// Answers the upgrade request with an HTTP status itself; the request never reaches the server.
    case refuse(status: Int, retryAfter: Int?)
    case dropPings(toward: Toward)
    case dropPongs(toward: Toward)
    /// Holds the bytes toward a side for `seconds`, or until the connection ends (nil).
    case stall(toward: Toward, seconds: Double?)
    /// Breaks the UTF-8 of the next (uncompressed, non-empty) text message, keeping its length.
    case corruptUTF8(toward: Toward)
    /// Sets RSV1 on the next data frame without it.
    case setRSV1(toward: Toward)
    /// Removes Sec-WebSocket-Extensions from the server's 101 answer.
    case stripExtensions
    /// Resets both TCP connections, with no close frame.
    case reset
    /// Delays every chunk of bytes toward a side by `milliseconds`.
    case latency(toward: Toward, milliseconds: Int)

    /// Which peer(s) receive what the action does.
    public enum Toward: String, Sendable, Equatable, CaseIterable {
        case client, server, both

        public func includes(_ side: Side) -> Bool { self == .both || rawValue == side.rawValue }

        public var sides: [Side] { Side.allCases.filter(includes) }
    }

    /// The name as written in a faults file.
    public var name: String {
        switch self {
        case .close: return "close"
        case .refuse: return "refuse"
        case .dropPings: return "drop-pings"
        case .dropPongs: return "drop-pongs"
        case .stall: return "stall"
        case .corruptUTF8: return "corrupt-utf8"
        case .setRSV1: return "set-rsv1"
        case .stripExtensions: return "strip-extensions"
        case .reset: return "reset"
        case .latency: return "latency"
        }
    }

    public static let names = ["close", "refuse", "drop-pings", "drop-pongs", "stall", "corrupt-utf8", "set-rsv1",
                               "strip-extensions", "reset", "latency"]

    /// Whether the action acts on the upgrade exchange itself, so no later trigger applies.
    public var actsOnUpgradeOnly: Bool {
        switch self {
        case .refuse, .stripExtensions: return true
        case .close, .dropPings, .dropPongs, .stall, .corruptUTF8, .setRSV1, .reset, .latency: return false
        }
    }
}
