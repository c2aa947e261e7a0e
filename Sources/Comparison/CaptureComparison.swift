import Diagnosis
import WebSocketWire

/// Everything `wsdoctor compare` found in two captures of the same traffic.
public struct CaptureComparison: Sendable {
    public var pairs: [PairComparison]
    public var onlyNearClient: [LegConnection]
    public var onlyNearServer: [LegConnection]
    public var clock: ClockOffset

    /// Intermediary endings within this many seconds of each other count as one event (a
    /// reload or restart). 2 s, as for close waves of one server.
    public static let endedTogetherWindow: Double = 2

    public init(nearClient: [LegConnection], nearServer: [LegConnection], rules: RuleSet) {
        let matching = ConnectionMatcher.match(nearClient: nearClient, nearServer: nearServer)
        let keyed = matching.matches.filter { $0.matchedBy == .key }
        let clock = ClockOffset.estimate((keyed.isEmpty ? matching.matches : keyed).map { (nearClient[$0.nearClient], nearServer[$0.nearServer]) })
        self.clock = clock
        onlyNearClient = matching.onlyNearClient.map { nearClient[$0] }
        onlyNearServer = matching.onlyNearServer.map { nearServer[$0] }

        let aligned: [(ConnectionMatcher.Match, PairAligner.Result)] = matching.matches.map { match in
            (match, PairAligner(nearClient: nearClient[match.nearClient], nearServer: nearServer[match.nearServer], clock: clock).align())
        }
        let endings = aligned.compactMap { $0.1.endedByIntermediaryAt }
        pairs = aligned.map { match, result in
            var facts = Self.pairFacts(result, nearClient[match.nearClient], nearServer[match.nearServer])
            if let at = result.endedByIntermediaryAt {
                facts.endedTogether = endings.filter { abs($0.seconds(since: at)) <= Self.endedTogetherWindow }.count
            }
            var context = FactContext(facts: nearClient[match.nearClient].facts)
            context.pair = facts
            return PairComparison(nearClient: nearClient[match.nearClient], nearServer: nearServer[match.nearServer],
                                  matchedBy: match.matchedBy, changes: result.changes,
                                  latency: result.latencies.compactMapValues(LatencySummary.init), facts: facts,
                                  diagnosis: rules.diagnose(context), endedByIntermediaryAt: result.endedByIntermediaryAt)
        }
    }

    static func pairFacts(_ result: PairAligner.Result, _ nearClient: LegConnection, _ nearServer: LegConnection) -> PairFacts {
        var facts = PairFacts()
        facts.changes = result.changes.count
        for change in result.changes where !facts.changeKinds.contains(change.kind.rawValue) {
            facts.changeKinds.append(change.kind.rawValue)
        }
        let kinds = Set(result.changes.map(\.kind))
        facts.endedByIntermediary = kinds.contains(.closedByIntermediary)
        facts.intermediaryIdleBefore = result.idleBeforeIntermediaryEnd
        facts.extensionsOfferedNearClient = nearClient.facts.handshake?.requestHeaders["Sec-WebSocket-Extensions"]
        facts.extensionsOfferedNearServer = nearServer.facts.handshake?.requestHeaders["Sec-WebSocket-Extensions"]
        facts.extensionsAcceptedNearClient = nearClient.facts.handshake?.responseHeaders?["Sec-WebSocket-Extensions"]
        facts.extensionsAcceptedNearServer = nearServer.facts.handshake?.responseHeaders?["Sec-WebSocket-Extensions"]
        facts.closeRewritten = kinds.contains(.closeRewritten)
        facts.closeLost = kinds.contains(.closeDropped)
        facts.closeCodeNearClient = nearClient.facts.firstClose?.code.map(Int.init)
        facts.closeCodeNearServer = nearServer.facts.firstClose?.code.map(Int.init)
        facts.payloadAltered = result.changes.filter { $0.kind == .payloadAltered }.count
        facts.keepaliveAnsweredBetween = result.injectedPongs > 0
        return facts
    }
}
