import Capture
import CaptureAnalysis
import Reporting

/// The line that ends a replay of one file or a live capture.
struct CaptureSummary {
    var session: ReplaySession
    var statistics: CaptureStatistics
    /// Packets the kernel dropped (live capture only).
    var kernelDropped: Int? = nil

    /// `3 connections reported (2 upgraded to WebSocket), 1 other TCP connection, 120 packets, 1 gap in TCP streams`:
    /// a reported connection that did not upgrade is one that never tried, to a WebSocket server.
    var text: String {
        let reported = session.reportedConnections
        var line = "\(reported) connection\(reported == 1 ? "" : "s") reported"
        if reported > 0 { line += " (\(session.upgradedConnections) upgraded to WebSocket)" }
        line += ", \(session.otherConnections) other TCP connection\(session.otherConnections == 1 ? "" : "s")"
        line += ", \(statistics.packetsRead) packets"
        if statistics.gaps > 0 { line += ", \(statistics.gaps) gap\(statistics.gaps == 1 ? "" : "s") in TCP streams" }
        if statistics.truncatedPackets > 0 { line += ", \(statistics.truncatedPackets) packets cut short by the snap length" }
        if let kernelDropped, kernelDropped > 0 { line += ", \(kernelDropped) packets dropped by the kernel (raise --kernel-buffer)" }
        let expired = statistics.reassembly.connectionsExpired
        if expired > 0 { line += ", \(expired) connection\(expired == 1 ? "" : "s") given up after --idle-expiry" }
        return line
    }

    /// `{"type":"summary",…}`; `source` names the capture file or the interface.
    func json(source: (key: String, value: String), error: CaptureError?) -> String {
        var json = JSONWriter()
        json.beginObject()
        json.string("type", "summary")
        json.string(source.key, source.value)
        json.number("reported_connections", session.reportedConnections)
        json.number("upgraded_connections", session.upgradedConnections)
        json.number("other_connections", session.otherConnections)
        json.number("packets", statistics.packetsRead)
        json.number("gaps", statistics.gaps)
        json.number("truncated_packets", statistics.truncatedPackets)
        if let kernelDropped {
            json.number("kernel_dropped_packets", kernelDropped)
            json.number("expired_connections", statistics.reassembly.connectionsExpired)
        }
        json.string("error", error.map { "\($0)" })
        json.endObject()
        return json.output
    }
}
