import WebSocketWire

/// A close frame wsdoctor proxy sent one side on its own behalf (a `close` fault): the close
/// frame that side then sends is its answer, not a close of its own.
public struct InjectedCloseFrame: Sendable, Equatable {
    /// The side it was sent to.
    public var toward: Side
    public var code: UInt16
    public var reason: String
    /// When it was sent.
    public var at: Timestamp
    /// The fault that sent it.
    public var faultID: String

    public init(toward: Side, code: UInt16, reason: String, at: Timestamp, faultID: String) {
        self.toward = toward
        self.code = code
        self.reason = reason
        self.at = at
        self.faultID = faultID
    }
}
