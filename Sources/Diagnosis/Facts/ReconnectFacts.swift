import Foundation
import WebSocketWire

/// How one client came back after a close (a reconnect episode): the evidence reconnect
/// rules (Rules/reconnects.yaml) read.
///
/// Absent (`FactContext.reconnect == nil`) for a connection; rules whose condition names a
/// `reconnect.*` fact judge episodes, every other rule judges connections.
public struct ReconnectFacts: Sendable, Hashable {
    /// Why the episode ended.
    public enum Outcome: String, Sendable, Hashable {
        /// A reconnect upgraded and stayed connected for the settle time.
        case reconnected
        /// No attempt came within the give-up bound after the last one failed.
        case gaveUp = "gave-up"
        /// wsdoctor stopped (or the capture ended) while the client was still trying.
        case stillTrying = "still-trying"
    }

    /// The client's key (address, or the chosen header's value) and the request path.
    public var client: String
    public var path: String
    /// The close code that started the episode (nil: no close frame, or a refused upgrade).
    public var afterCode: Int?
    /// The HTTP status of the refused upgrade that started it, if one did.
    public var afterStatus: Int?
    /// The closing connection carried a JSON Web Token that had expired when it closed.
    public var tokenExpired = false
    /// Seconds from each failure (the close, then each failed attempt's end) to the next attempt.
    public var delays: [Double] = []
    /// Attempts after the close, each once.
    public var attempts = 0
    public var outcome: Outcome = .stillTrying
    /// After an expired token: whether an attempt carried a token with the same claims.
    public var sameToken: Bool?
    /// Attempts that met the same close code or refusal status as the one that started the episode.
    public var repeats = 0
    /// Clients whose first reconnect came within `stormWindow` of this one's (this one included).
    public var backTogether = 1
    /// Seconds from the first to the last of those first reconnects.
    public var spread: Double = 0
    /// How those reconnects fell over time: counts per tenth of a second, from the first.
    public var spreadHistogram: [Int] = []

    /// Seconds within which clients' first reconnects count as one storm: "the same second".
    public static let stormWindow: Double = 1

    public init(client: String, path: String) {
        self.client = client
        self.path = path
    }

    /// What started the episode, in words.
    public var after: String {
        if let code = afterCode { return "close \(code) (\(CloseCode.name(of: UInt16(clamping: code))))" }
        if let status = afterStatus { return "a refused upgrade (HTTP \(status))" }
        return "an end without a close frame"
    }

    /// The delays in seconds to the millisecond ("1.205"), as they are cited.
    public var delaysInMilliseconds: [String] {
        delays.map { seconds in
            let milliseconds = Int((seconds * 1000).rounded())
            let fraction = String(milliseconds % 1000)
            return "\(milliseconds / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
        }
    }

    /// The median ratio of each delay to the one before it (needs two delays).
    public var growth: Double? {
        guard delays.count >= 2 else { return nil }
        let ratios = zip(delays.dropFirst(), delays).map { later, earlier in later / max(earlier, 0.001) }
        return Self.median(ratios)
    }

    /// How far the delays stray from a smooth geometric series: the residual standard
    /// deviation (over n − 2 degrees of freedom) of a least-squares line through their
    /// logarithms; 0.1 is about 10 %. Needs four delays: with three, one residual is all
    /// there is, and a jittered series can look smooth by chance. Exact delays of a second
    /// or more stay under 0.01 (timer noise).
    public var jitter: Double? {
        guard delays.count >= 4 else { return nil }
        let logs = delays.map { log(max($0, 0.001)) }
        let count = Double(logs.count)
        let meanIndex = (count - 1) / 2
        let meanLog = logs.reduce(0, +) / count
        var covariance = 0.0, variance = 0.0
        for (index, value) in logs.enumerated() {
            covariance += (Double(index) - meanIndex) * (value - meanLog)
            variance += (Double(index) - meanIndex) * (Double(index) - meanIndex)
        }
        let slope = covariance / variance
        let residuals = logs.enumerated().map { index, value in value - (meanLog + slope * (Double(index) - meanIndex)) }
        return (residuals.map { $0 * $0 }.reduce(0, +) / (count - 2)).squareRoot()
    }

    private static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}
