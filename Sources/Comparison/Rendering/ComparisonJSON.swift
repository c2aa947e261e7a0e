import Diagnosis
import Reporting
import WebSocketWire

/// One JSON object per compared pair, then unmatched connections and a summary; the schema
/// is documented in README.md ("wsdoctor compare").
public struct ComparisonJSON: Sendable {
    public var redaction: Redaction

    public init(redaction: Redaction = Redaction()) {
        self.redaction = redaction
    }

    public func render(_ pair: PairComparison, clock: ClockOffset, files: (nearClient: String, nearServer: String)) -> String {
        let connection = ConnectionJSON(redaction: redaction)
        var json = JSONWriter()
        json.beginObject()
        json.string("type", "comparison")
        json.raw("near_client", connection.render(pair.nearClient.facts, diagnosis: pair.nearClient.connection.diagnosis, capture: files.nearClient))
        json.raw("near_server", connection.render(pair.nearServer.facts, diagnosis: pair.nearServer.connection.diagnosis, capture: files.nearServer))
        json.number("clock_offset", clock.seconds)
        json.string("matched_by", pair.matchedBy.rawValue)
        json.beginArray("changes")
        for change in pair.changes {
            json.beginObject()
            json.string("kind", change.kind.rawValue)
            json.string("direction", change.direction.rawValue)
            json.number("near_client_frame", change.nearClientFrame)
            json.number("near_server_frame", change.nearServerFrame)
            json.string("at", change.at.iso8601)
            json.string("detail", change.detail)
            json.endObject()
        }
        json.endArray()
        json.beginObject("latency")
        for direction in FlowDirection.allCases {
            guard let latency = pair.latency[direction] else {
                json.string(direction.rawValue, nil)
                continue
            }
            json.beginObject(direction.rawValue)
            json.number("messages", latency.messages)
            json.number("p50", latency.p50)
            json.number("p99", latency.p99)
            json.number("max", latency.max)
            json.endObject()
        }
        json.endObject()
        ConnectionJSON.write(pair.diagnosis, into: &json, redaction: redaction)
        json.endObject()
        return json.output
    }

    /// A connection found in one capture only.
    public func unmatched(_ connection: LegConnection, foundIn leg: Leg, file: String) -> String {
        var json = JSONWriter()
        json.beginObject()
        json.string("type", "unmatched")
        json.string("found_in", leg.rawValue)
        json.raw("connection", ConnectionJSON(redaction: redaction).render(connection.facts, diagnosis: connection.connection.diagnosis, capture: file))
        json.endObject()
        return json.output
    }

    public func summary(_ totals: ComparisonTotals) -> String {
        var json = JSONWriter()
        json.beginObject()
        json.string("type", "comparison_summary")
        json.number("pairs", totals.pairs)
        json.number("only_near_client", totals.onlyNearClient)
        json.number("only_near_server", totals.onlyNearServer)
        json.number("clock_offset", totals.clock.seconds)
        json.number("clock_offset_lower_bound", totals.clock.lowerBound)
        json.number("clock_offset_upper_bound", totals.clock.upperBound)
        json.beginObject("changes")
        for (kind, count) in totals.changeCounts { json.number(kind, count) }
        json.endObject()
        json.beginObject("by_category")
        for (category, count) in totals.categoryCounts { json.number(category, count) }
        json.endObject()
        json.endObject()
        return json.output
    }
}
