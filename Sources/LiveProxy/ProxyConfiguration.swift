import Diagnosis
import FaultInjection

/// Where the proxy listens, where it forwards, and how it analyses.
public struct ProxyConfiguration: Sendable {
    public var listenHost: String
    public var listenPort: Int
    public var upstream: UpstreamAddress
    public var analyzer: AnalyzerConfiguration
    /// With `analyzer.recordTimeline`: frames go to `ProxyEvents.connectionEvents` as they are
    /// decoded and are then forgotten (`--frames`). Off, each connection keeps its timeline
    /// (up to `analyzer.maxTimelineEntries`) for its finished report (`--html`, `--har`).
    public var showsFramesLive = true
    public var rules: RuleSet
    /// How long to wait for the upstream to accept a connection. 10 s: beyond it the client
    /// gets a 502 rather than hanging.
    public var connectTimeoutSeconds: Int64
    /// Replace the Host header of client requests with the upstream's `host:port`. This
    /// alters traffic; off unless asked.
    public var rewriteHost = false
    /// TLS toward clients and toward a `wss://` upstream.
    public var tls = ProxyTLSOptions()
    /// Where to record what was relayed (a pcap file), if anywhere.
    public var recordPath: String?
    /// Faults to inject on purpose (`--faults`, `--control`); nil leaves the relay untouched.
    /// This alters traffic; off unless asked.
    public var faults: FaultBook?
    /// The proxy's own bounds: head and upgrade timeouts, connections at once.
    public var limits = ProxyLimits()

    public init(listenHost: String, listenPort: Int, upstream: UpstreamAddress, analyzer: AnalyzerConfiguration = AnalyzerConfiguration(),
                rules: RuleSet = .defaults(), connectTimeoutSeconds: Int64 = 10) {
        self.listenHost = listenHost
        self.listenPort = listenPort
        self.upstream = upstream
        self.analyzer = analyzer
        self.rules = rules
        self.connectTimeoutSeconds = connectTimeoutSeconds
    }
}

/// The server the proxy forwards to, from a `ws://host:port` or `wss://host:port` URL.
public struct UpstreamAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var secure: Bool

    public init(host: String, port: Int, secure: Bool) {
        self.host = host
        self.port = port
        self.secure = secure
    }

    /// Parses `ws://host[:port][/path]`; the path is ignored (clients' paths pass through as sent).
    public init?(url: String) {
        let secure: Bool
        var rest: Substring
        if url.hasPrefix("ws://") {
            secure = false
            rest = url.dropFirst(5)
        } else if url.hasPrefix("wss://") {
            secure = true
            rest = url.dropFirst(6)
        } else {
            return nil
        }
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        var host = rest
        var port = secure ? 443 : 80
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") {
                guard let value = Int(after.dropFirst()), (1...65535).contains(value) else { return nil }
                port = value
            } else if !after.isEmpty {
                return nil
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            guard let value = Int(rest[rest.index(after: colon)...]), (1...65535).contains(value) else { return nil }
            port = value
        }
        guard !host.isEmpty else { return nil }
        self.init(host: String(host), port: port, secure: secure)
    }

    public var description: String {
        let shown = host.contains(":") ? "[\(host)]" : host
        return "\(secure ? "wss" : "ws")://\(shown):\(port)"
    }
}
