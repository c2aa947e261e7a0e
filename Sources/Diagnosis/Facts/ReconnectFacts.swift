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
    /// The longest wait a refusal's Retry-After asked for, of those the client came back from
    /// (nil: no refusal in the episode sent one in seconds).
    public var retryAfter: Double?
    /// Whether the client waited at least what each Retry-After asked, less
    /// `retryAfterTolerance` (nil: none asked).
    public var retryAfterHonoured: Bool?
    /// Clients whose first reconnect came within `stormWindow` of this one's (this one included).
    public var backTogether = 1
    /// Seconds from the first to the last of those first reconnects.
    public var spread: Double = 0
    /// How those reconnects fell over time: counts per tenth of a second, from the first.
    public var spreadHistogram: [Int] = []

    /// Seconds within which clients' first reconnects count as one storm: "the same second".
    public static let stormWindow: Double = 1

    /// Seconds a delay may fall short of Retry-After and still honour it: the capture's or
    /// the proxy's stamps, against the client's own timer.
    public static let retryAfterTolerance: Double = 0.05

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

    /// How far the delays stray from a smooth geometric series, beyond timer noise: the
    /// residual standard deviation (over n − 2 degrees of freedom) of a least-squares line
    /// through their logarithms, once each delay has been moved toward that line by up to
    /// `timerNoise` (less than measured: noise only ever adds), and the line fitted again;
    /// 0.1 is about 10 %. Needs five delays: with fewer, a jittered series fits a smooth one
    /// within the noise by chance too often. Exact delays come out at 0.
    public var jitter: Double? {
        guard delays.count >= 5 else { return nil }
        let measured = delays.map { log(max($0, 0.001)) }
        let earliest = delays.map { log(max($0 - Self.timerNoise, 0.001)) }
        var logs = measured
        var fitted = Self.line(through: logs)
        // Alternate: each delay as near the line as its noise allows, then the line through them.
        for _ in 0..<50 {
            logs = zip(fitted, zip(earliest, measured)).map { line, bounds in min(max(line, bounds.0), bounds.1) }
            fitted = Self.line(through: logs)
        }
        let squares = zip(logs, fitted).map { ($0 - $1) * ($0 - $1) }
        return (squares.reduce(0, +) / Double(delays.count - 2)).squareRoot()
    }

    /// Seconds a measured delay may run over what the client meant: the client woke late, or
    /// its next request took time to be read. 0.1 s: on a loaded 2-core machine (load 27) an
    /// exact client's delays came out 0.03–0.14 s long; a smaller allowance turns exact
    /// clients into jittered ones, a larger one turns jittered ones (random 1–1.5× from 1 s)
    /// into exact ones more often than 2 % of the time with five delays.
    public static let timerNoise: Double = 0.1

    /// The least-squares line through `values` by index, at each index.
    private static func line(through values: [Double]) -> [Double] {
        let count = Double(values.count)
        let meanIndex = (count - 1) / 2
        let mean = values.reduce(0, +) / count
        var covariance = 0.0, variance = 0.0
        for (index, value) in values.enumerated() {
            covariance += (Double(index) - meanIndex) * (value - mean)
            variance += (Double(index) - meanIndex) * (Double(index) - meanIndex)
        }
        let slope = covariance / variance
        return values.indices.map { mean + slope * (Double($0) - meanIndex) }
    }

    private static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}
