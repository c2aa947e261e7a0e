#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The proxy's own bounds. Each acts only when hit; below them the relay is untouched.
public struct ProxyLimits: Sendable {
    /// Seconds a client has, once the upstream is connected, to send its whole first request
    /// head; nil turns it off. 60 s, as nginx's `client_header_timeout`: a slow-loris client
    /// holds its two descriptors no longer than this. Past it the client gets 408.
    public var headTimeout: Double? = 60
    /// Seconds the upstream has to answer an upgrade request once its head was relayed; nil
    /// turns it off. 60 s, as nginx's `proxy_read_timeout`. Past it the client gets 504.
    public var upgradeTimeout: Double? = 60
    /// Connections relayed at once; a client past it gets 503 with Retry-After. The default
    /// is half the descriptors left after a reserve of 64 (each connection takes two:
    /// client and upstream), at most 10,000, so clients are told to come back rather than
    /// the accept loop running out of descriptors.
    public var maxConnections: Int = ProxyLimits.defaultMaxConnections
    /// What a client refused for `maxConnections` is told to wait, in seconds (Retry-After).
    public var retryAfterSeconds = 1

    public init() {}

    /// The limits in effect, for the start-up line: a sidecar's operator sees what is bounded.
    public var summary: String {
        func seconds(_ value: Double?) -> String {
            guard let value else { return "off" }
            return value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
        }
        return "limits: --head-timeout \(seconds(headTimeout)), --upgrade-timeout \(seconds(upgradeTimeout)), --max-connections \(maxConnections)"
    }

    /// Half of (the descriptor limit − 64), between 1 and 10,000.
    public static var defaultMaxConnections: Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 10_000 }
        // RLIM_INFINITY is all ones, which Int(clamping:) turns into Int.max.
        let descriptors = Int(clamping: limit.rlim_cur)
        return min(10_000, max(1, (descriptors - 64) / 2))
    }
}
