import Diagnosis
import NIOConcurrencyHelpers
import Prometheus
import WebSocketWire

/// The Prometheus metrics of `wsdoctor proxy` and `wsdoctor sniff`, served on the admin endpoint.
///
/// Label values come from closed sets (close codes, categories, sides, violation kinds,
/// HTTP statuses), so the number of series stays bounded.
public final class LiveMetrics: Sendable {
    /// What produces the connections: the metrics that make sense differ.
    public enum Source: Sendable {
        /// Relayed connections, and the bytes relayed.
        case proxy
        /// Captured connections, and the packets captured and dropped.
        case capture
    }

    public let registry = PrometheusCollectorRegistry()
    private let active: Gauge
    /// Per-connection states still in memory (proxy only).
    private let statesHeld: Gauge?
    private let total: Counter
    private let clientBytes: Counter?
    private let serverBytes: Counter?
    private let packets: Counter?
    private let droppedPackets: Counter?
    private let limitHits: [ProxyLimit: Counter]
    /// Totals already added to the counters, for a capture whose counts come as running totals.
    private let captureTotals = NIOLockedValueBox(CaptureTotals())

    private struct CaptureTotals {
        var connections = 0
        var packets = 0
        var dropped = 0
    }

    public init(source: Source = .proxy) {
        active = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "wsdoctor", metricName: "connections", unitName: "active",
                                                                   helpText: source == .proxy ? "Connections being relayed now" : "TCP connections being followed now"))
        total = Self.counter(registry, "connections", [], help: source == .proxy ? "Connections accepted" : "TCP connections seen")
        switch source {
        case .proxy:
            statesHeld = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "wsdoctor", metricName: "connection_states", unitName: "held",
                                                                             helpText: "Per-connection states in memory (a connection being relayed or just reported); back to 0 once every connection has closed"))
            clientBytes = Self.counter(registry, "relayed_bytes", [("direction", "client_to_server")], help: "Bytes relayed, by direction")
            serverBytes = Self.counter(registry, "relayed_bytes", [("direction", "server_to_client")], help: "Bytes relayed, by direction")
            packets = nil
            droppedPackets = nil
            // Made at start, so each limit's series exists (at 0) before it is first hit.
            let registry = registry
            limitHits = Dictionary(uniqueKeysWithValues: ProxyLimit.allCases.map { limit in
                (limit, Self.counter(registry, "limit_hits", [("limit", limit.rawValue)],
                                     help: "Times one of the proxy's own limits was hit: head_timeout, upgrade_timeout, max_connections, descriptors (accept or upstream connect failed with EMFILE or ENFILE)"))
            })
        case .capture:
            statesHeld = nil
            clientBytes = nil
            serverBytes = nil
            packets = Self.counter(registry, "captured_packets", [], help: "Packets captured (after the filter)")
            droppedPackets = Self.counter(registry, "capture_dropped_packets", [],
                                          help: "Packets the kernel dropped because wsdoctor read too slowly; their connections show gaps")
            limitHits = [:]
        }
    }

    package func opened() {
        active.increment()
        total.increment()
    }

    /// A connection's state was made, or given back (when nothing holds it any more).
    package func connectionStateMade() {
        statesHeld?.increment()
    }

    package func connectionStateFreed() {
        statesHeld?.decrement()
    }

    package func limitHit(_ limit: ProxyLimit) {
        limitHits[limit]?.increment()
    }

    package func relayed(_ count: Int, from side: Side) {
        (side == .client ? clientBytes : serverBytes)?.increment(by: Int64(count))
    }

    package func closed(_ connection: FinishedConnection) {
        active.decrement()
        recordClose(connection)
    }

    /// Counts a judged reconnect episode by its diagnosis category.
    public func recordReconnect(category: String) {
        Self.counter(registry, "reconnects", [("category", category)],
                     help: "Reconnect episodes (how a client came back after a close) by diagnosis category").increment()
    }

    /// Counts a connection's close, violations and handshake failure.
    public func recordClose(_ connection: FinishedConnection) {
        let facts = connection.facts
        // wsdoctor's own close (a fault) is counted as wsdoctor's, never as the answering peer's.
        let own = facts.closeStartedByWsdoctor ? facts.injectedCloses.first : nil
        let code = (own?.code ?? facts.firstClose?.code).map { String($0) } ?? "none"
        Self.counter(registry, "closes", [("code", code), ("category", connection.diagnosis.category),
                                      ("initiator", own == nil ? facts.closeInitiator?.rawValue ?? "none" : "wsdoctor")],
                             help: "Closed connections by first close code, diagnosis category and initiator").increment()
        for violation in facts.violations {
            Self.counter(registry, "violations", [("side", violation.side.rawValue), ("kind", violation.kind.rawValue)],
                                 help: "Protocol violations by the side that committed them and their kind").increment()
        }
        if let status = facts.handshake?.status, status != 101 {
            Self.counter(registry, "handshake_failures", [("status", String(status))],
                                 help: "Upgrade requests answered with something other than 101, by status").increment()
        }
        if facts.upstreamError != nil {
            Self.counter(registry, "handshake_failures", [("status", "502")],
                                 help: "Upgrade requests answered with something other than 101, by status").increment()
        }
    }

    /// A capture's running totals: connections seen and open, packets read, kernel drops.
    public func observeCapture(connectionsOpened: Int, openConnections: Int, packetsRead: Int, kernelDropped: Int) {
        active.set(Int64(openConnections))
        let added = captureTotals.withLockedValue { totals in
            let now = CaptureTotals(connections: connectionsOpened, packets: packetsRead,
                                    dropped: max(totals.dropped, kernelDropped))
            defer { totals = now }
            return (connections: now.connections - totals.connections, packets: now.packets - totals.packets,
                    dropped: now.dropped - totals.dropped)
        }
        if added.connections > 0 { total.increment(by: Int64(added.connections)) }
        if added.packets > 0 { packets?.increment(by: Int64(added.packets)) }
        if added.dropped > 0 { droppedPackets?.increment(by: Int64(added.dropped)) }
    }

    /// wsdoctor proxy injected a fault on purpose (`--faults`), counted once per connection and fault.
    package func faultInjected(_ action: String) {
        Self.counter(registry, "faults_injected", [("action", action)], help: "Faults injected on purpose (--faults), by action").increment()
    }

    /// Forgets a connection that ended without being reported (plain HTTP exchanges).
    package func closedUnreported() {
        active.decrement()
    }

    /// A labelled counter named `wsdoctor_<metric>_total`.
    private static func counter(_ registry: PrometheusCollectorRegistry, _ metric: String, _ labels: [(String, String)],
                                help: String) -> Counter {
        registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "wsdoctor", metricName: metric, unitName: "total", helpText: help),
                             labels: labels)
    }

    /// The Prometheus text exposition.
    public func exposition() -> [UInt8] {
        registry.emitToBuffer()
    }
}
