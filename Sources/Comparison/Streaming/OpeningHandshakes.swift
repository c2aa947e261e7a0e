import Capture
import CaptureAnalysis
import Diagnosis
import WebSocketWire

/// The first answered handshakes of a capture, read ahead of the comparison to estimate the
/// clock offset before both captures are read side by side on aligned clocks.
enum OpeningHandshakes {
    /// Handshakes read per capture. 64 bound the offset as tightly as clocks allow.
    static let maxHandshakes = 64
    /// Seconds of capture after the first handshake within which they are looked for. 60:
    /// a capture of one long connection is not read to its end for more.
    static let window: Double = 60
    /// Packets read before giving up when no handshake comes (a capture of connections
    /// already open): a million, a second or two of reading.
    static let maxPacketsWithoutHandshake = 1_000_000

    static func read(_ path: String, filter: String?, configuration: AnalyzerConfiguration, rules: RuleSet,
                     webSocketPorts: Set<UInt16>) throws(CaptureError) -> [ConnectionFacts] {
        let reader = try LegReader(path: path, filter: filter, configuration: configuration, rules: rules,
                                   webSocketPorts: webSocketPorts)
        var handshakes: [ConnectionFacts] = []
        var first: Timestamp?
        var packets = 0
        while !reader.isDone && handshakes.count < maxHandshakes && (first != nil || packets < maxPacketsWithoutHandshake) {
            reader.step()
            packets += 1
            if let first, let now = reader.now, now.seconds(since: first) > window { break }
            for case .answered(let facts) in reader.takeEvents() where handshakes.count < maxHandshakes {
                handshakes.append(facts)
                if first == nil { first = facts.handshake?.answeredAt }
            }
        }
        return handshakes
    }
}
