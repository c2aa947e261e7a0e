import Capture
import CaptureAnalysis
import Diagnosis
import WebSocketWire

/// Reads one capture through ``ReplaySession`` with the timeline recorded, and keeps each
/// WebSocket connection reduced to a ``LegConnection``.
public struct CaptureReading: Sendable {
    public var connections: [LegConnection] = []
    /// Connections past `maxConnections`, counted, not compared.
    public var connectionsNotKept = 0
    public var statistics: CaptureFileFeeder.Statistics?
    /// The error that cut reading short (what came before it is kept).
    public var error: CaptureError?

    /// Connections kept per capture. 10,000: each holds its messages' shapes (about 80 bytes
    /// a message) until its counterpart is compared; more is beyond a debugging session.
    public static let defaultMaxConnections = 10_000

    public static func read(file path: String, filter: String?, configuration: AnalyzerConfiguration, rules: RuleSet,
                            webSocketPorts: Set<UInt16>, maxConnections: Int = defaultMaxConnections) -> CaptureReading {
        var configuration = configuration
        configuration.recordTimeline = true
        // Messages are aligned by their position in each side's stream: a timeline with a
        // hole in the middle would pair one leg's latest messages with the other's earlier
        // ones, so past the bound compare keeps only the first entries, a prefix on both legs.
        configuration.keepsLatestTimelineEntries = false
        var reading = CaptureReading()
        let session = ReplaySession(configuration: configuration, rules: rules, webSocketPorts: webSocketPorts) { finished in
            guard finished.facts.carriesWebSocket || finished.facts.handshake != nil else { return }
            if reading.connections.count < maxConnections {
                reading.connections.append(LegConnection(finished))
            } else {
                reading.connectionsNotKept += 1
            }
        }
        let (statistics, error) = session.replay(file: path, filter: filter)
        reading.statistics = statistics
        reading.error = error
        return reading
    }
}
