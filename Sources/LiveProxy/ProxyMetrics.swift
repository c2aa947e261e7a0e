import Capture
import Diagnosis
import Prometheus
import WebSocketWire

/// The proxy's Prometheus metrics, served on the admin endpoint.
///
/// Label values come from closed sets (close codes, categories, sides, violation kinds,
/// HTTP statuses), so the number of series stays bounded.
public final class ProxyMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let active: Gauge
    private let total: Counter
    private let clientBytes: Counter
    private let serverBytes: Counter

    public init() {
        active = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "wsdoctor", metricName: "connections", unitName: "active",
                                                                   helpText: "Connections being relayed now"))
        total = Self.counter(registry, "connections", [], help: "Connections accepted")
        clientBytes = Self.counter(registry, "relayed_bytes", [("direction", "client_to_server")],
                                           help: "Bytes relayed, by direction")
        serverBytes = Self.counter(registry, "relayed_bytes", [("direction", "server_to_client")],
                                           help: "Bytes relayed, by direction")
    }

    func opened() {
        active.increment()
        total.increment()
    }

    func relayed(_ count: Int, from side: Side) {
        (side == .client ? clientBytes : serverBytes).increment(by: Int64(count))
    }

    func closed(_ connection: FinishedConnection) {
        active.decrement()
        let facts = connection.facts
        let code = facts.firstClose?.code.map { String($0) } ?? "none"
        Self.counter(registry, "closes", [("code", code), ("category", connection.diagnosis.category),
                                      ("initiator", facts.closeInitiator?.rawValue ?? "none")],
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

    /// Forgets a connection that ended without being reported (plain HTTP exchanges).
    func closedUnreported() {
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
