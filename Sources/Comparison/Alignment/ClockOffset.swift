import Diagnosis
import WebSocketWire

/// How far the near-server capture's clock runs ahead of the near-client one, from the
/// opening handshakes: a request leaves the client's side before it reaches the server's,
/// and the answer leaves the server's side before it reaches the client's.
///
/// Each pair bounds the offset θ (near-server clock minus near-client clock):
/// `answer_ns − answer_nc ≤ θ ≤ request_ns − request_nc`. The bounds of all pairs are
/// intersected; 0 is taken when it lies inside (one clock, or clocks in step), else the
/// middle of the interval.
public struct ClockOffset: Sendable, Hashable {
    /// Seconds to subtract from a near-server time to put it on the near-client clock.
    public var seconds: Double
    /// The interval the handshakes allow; nil when no pair had both request and answer.
    public var lowerBound: Double?
    public var upperBound: Double?

    public static let zero = ClockOffset(seconds: 0, lowerBound: nil, upperBound: nil)

    public static func estimate(_ pairs: [(nearClient: ConnectionFacts, nearServer: ConnectionFacts)]) -> ClockOffset {
        var lower = -Double.infinity
        var upper = Double.infinity
        var middles: [Double] = []
        for (nearClient, nearServer) in pairs {
            guard let client = nearClient.handshake, let server = nearServer.handshake,
                  let clientAnswer = client.answeredAt, let serverAnswer = server.answeredAt else { continue }
            let low = serverAnswer.seconds(since: clientAnswer)
            let high = server.requestedAt.seconds(since: client.requestedAt)
            lower = max(lower, low)
            upper = min(upper, high)
            middles.append((low + high) / 2)
        }
        guard !middles.isEmpty else { return .zero }
        if lower <= upper {
            let seconds = (lower...upper).contains(0) ? 0 : (lower + upper) / 2
            return ClockOffset(seconds: seconds, lowerBound: lower, upperBound: upper)
        }
        // Bounds that do not meet: the clocks drifted during the captures. The median middle
        // is the best single figure.
        let sorted = middles.sorted()
        return ClockOffset(seconds: sorted[sorted.count / 2], lowerBound: nil, upperBound: nil)
    }

    /// `time` taken on `leg`, on the near-client clock.
    public func common(_ time: Timestamp, on leg: Leg) -> Timestamp {
        leg == .nearClient ? time : time.adding(seconds: -seconds)
    }

    /// How wrong `seconds` may be: 0 when the handshakes allow one clock (taken as such), else
    /// half the interval they allow (10 ms without bounds). Orders of events across the legs
    /// closer than this are not believed.
    public var uncertainty: Double {
        guard let lowerBound, let upperBound else { return 0.010 }
        return seconds == 0 ? 0 : (upperBound - lowerBound) / 2
    }
}
