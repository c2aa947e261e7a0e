import Diagnosis
import WebSocketWire

/// Everything `wsdoctor compare` found in two captures of the same traffic, collected from a
/// ``ComparisonStream`` (which the command prints from as it goes, holding none of it).
public struct CaptureComparison: Sendable {
    public var pairs: [PairComparison] = []
    public var onlyNearClient: [LegConnection] = []
    public var onlyNearServer: [LegConnection] = []
    public var clock: ClockOffset
    public var totals: ComparisonTotals
    /// Most connections the stream held at once.
    public var peakHeld: Int
    /// Connections past the bound, counted, not compared.
    public var notKept: [Leg: Int]

    /// Reads and compares both captures, keeping every result.
    public static func collect(nearClient: String, nearServer: String,
                               options: ComparisonStream.Options = .init()) throws(ComparisonStream.OpenError) -> CaptureComparison {
        let stream = try ComparisonStream(nearClient: nearClient, nearServer: nearServer, options: options)
        var pairs: [PairComparison] = []
        var only: [Leg: [LegConnection]] = [.nearClient: [], .nearServer: []]
        stream.run { settled in
            switch settled {
            case .pair(let pair): pairs.append(pair)
            case .unmatched(let connection, let leg): only[leg]!.append(connection)
            }
        }
        return CaptureComparison(pairs: pairs, onlyNearClient: only[.nearClient]!, onlyNearServer: only[.nearServer]!,
                                 clock: stream.clock, totals: stream.totals, peakHeld: stream.peakHeld, notKept: stream.notKept)
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
