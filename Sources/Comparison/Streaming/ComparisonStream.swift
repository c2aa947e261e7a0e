import Capture
import Diagnosis
import WebSocketWire

/// Reads two captures of the same traffic side by side, in time order on clocks aligned by
/// the opening handshakes, and settles each connection as soon as it can: a pair is compared
/// and handed on once both its legs have ended, and then forgotten. Memory follows what is
/// open or unsettled at one time, never the size of the captures.
///
/// Held at any moment, per capture, at most `maxHeld` connections:
/// - connections between their handshake and their end (open ones, as any replay holds);
/// - a connection without counterpart yet, for `ConnectionMatcher.fallbackWindow` (5 s) of
///   the other capture after its request (twice that near the server, where near-client
///   requests may still claim it), then reported as found in one capture only when it ends;
/// - a compared pair the intermediary ended, for `endedTogetherWindow` (2 s) more, to count
///   the pairs it ended with it.
///
/// Order of what is handed on (deterministic for given captures): in the order settled as
/// the captures are read; within one settling step, pairs by near-client opening, then
/// near-client-only connections, then near-server-only ones, each by opening.
public final class ComparisonStream {
    public struct Options: Sendable {
        public var filter: String?
        public var configuration: AnalyzerConfiguration
        public var rules: RuleSet
        public var webSocketPorts: Set<UInt16>
        public var maxHeld: Int

        public init(filter: String? = nil, configuration: AnalyzerConfiguration = AnalyzerConfiguration(), rules: RuleSet = .defaults(),
                    webSocketPorts: Set<UInt16> = [], maxHeld: Int = ComparisonStream.defaultMaxHeld) {
            self.filter = filter
            self.configuration = configuration
            self.rules = rules
            self.webSocketPorts = webSocketPorts
            self.maxHeld = maxHeld
        }
    }

    /// A capture that could not be opened.
    public struct OpenError: Error, Sendable {
        public var leg: Leg
        public var path: String
        public var error: CaptureError
    }

    public enum Settled: Sendable {
        case pair(PairComparison)
        case unmatched(LegConnection, foundIn: Leg)
    }

    /// Connections held per capture. 10,000: each open one holds its messages' shapes (about
    /// 80 bytes a message) until compared; more at once is beyond a debugging session.
    public static let defaultMaxHeld = 10_000
    /// Intermediary endings within this many seconds of each other count as one event (a
    /// reload or restart). 2 s, as for close waves of one server.
    public static let endedTogetherWindow: Double = 2
    /// Packets read between two settling steps when nothing was reported.
    static let settleEvery = 256

    public let clock: ClockOffset
    /// The opening handshakes pair each connection with itself: both files hold one capture.
    public let holdsOneCapture: Bool
    public private(set) var totals: ComparisonTotals
    /// Most connections held at once, both captures together (for tests of the bound).
    public private(set) var peakHeld = 0
    /// Connections past `maxHeld`, counted, not compared.
    public private(set) var notKept: [Leg: Int] = [.nearClient: 0, .nearServer: 0]

    private let options: Options
    private let readers: [Leg: LegReader]
    private var held: [Leg: [Int: HeldConnection]] = [.nearClient: [:], .nearServer: [:]]
    /// Ids of connections open for pairing, by Sec-WebSocket-Key.
    private var openByKey: [Leg: [String: [Int]]] = [.nearClient: [:], .nearServer: [:]]
    /// Compared pairs the intermediary ended, waiting for the ones it ended with them.
    private var awaiting: [(pair: AlignedPair, endedAt: Timestamp)] = []
    /// When the intermediary ended recently compared pairs (common clock).
    private var recentEnds: [Timestamp] = []

    private struct AlignedPair {
        var nearClient: LegConnection
        var nearServer: LegConnection
        var matchedBy: ConnectionMatcher.MatchedBy
        var result: PairAligner.Result
    }

    public init(nearClient: String, nearServer: String, options: Options) throws(OpenError) {
        self.options = options
        var configuration = options.configuration
        configuration.recordTimeline = true
        // Messages are aligned by their position in each side's stream: a timeline with a
        // hole in the middle would pair one leg's latest messages with the other's earlier
        // ones, so past the bound compare keeps only the first entries, a prefix on both legs.
        configuration.keepsLatestTimelineEntries = false
        // Payloads are compared by digest: bytes changed in place, or re-compressed.
        configuration.decoder.digestsPayloads = true
        var samples: [Leg: [ConnectionFacts]] = [:]
        var readers: [Leg: LegReader] = [:]
        for (leg, path) in [(Leg.nearClient, nearClient), (.nearServer, nearServer)] {
            do {
                samples[leg] = try OpeningHandshakes.read(path, filter: options.filter, configuration: options.configuration, rules: options.rules,
                                                         webSocketPorts: options.webSocketPorts)
                readers[leg] = try LegReader(path: path, filter: options.filter, configuration: configuration, rules: options.rules,
                                             webSocketPorts: options.webSocketPorts)
            } catch {
                throw OpenError(leg: leg, path: path, error: error)
            }
        }
        self.readers = readers
        let sampleClient = samples[.nearClient]!, sampleServer = samples[.nearServer]!
        let opening = ConnectionMatcher.match(nearClient: sampleClient, nearServer: sampleServer)
        clock = opening.clock
        holdsOneCapture = !opening.matches.isEmpty && opening.matches.allSatisfy { match in
            let a = sampleClient[match.nearClient], b = sampleServer[match.nearServer]
            return a.client == b.client && a.server == b.server && a.opened == b.opened
        }
        totals = ComparisonTotals(clock: clock)
    }

    /// The reading error of each capture that had one (what came before it was compared).
    public var errors: [(leg: Leg, path: String, error: CaptureError)] {
        [Leg.nearClient, .nearServer].compactMap { leg in readers[leg]!.error.map { (leg, readers[leg]!.path, $0) } }
    }

    /// Reads both captures to their ends, handing on each pair and unmatched connection as it
    /// is settled.
    public func run(_ handOn: (Settled) -> Void) {
        var sinceSettled = 0
        while let leg = nextLeg() {
            let reader = readers[leg]!
            reader.step()
            let events = reader.takeEvents()
            for event in events {
                switch event {
                case .answered(let facts): handshake(facts, on: leg)
                case .finished(let finished): ended(finished, on: leg)
                }
            }
            sinceSettled += 1
            if !events.isEmpty || reader.isDone || sinceSettled >= Self.settleEvery {
                settle(until: horizon, handOn)
                sinceSettled = 0
            }
        }
        settle(until: nil, handOn)
    }

    // MARK: Reading in time order

    /// The capture whose latest packet is the earlier on the common clock; nil when both are read.
    private func nextLeg() -> Leg? {
        let open = [Leg.nearClient, .nearServer].filter { !readers[$0]!.isDone }
        return open.min { (commonNow($0) ?? Timestamp(nanoseconds: .min)) < (commonNow($1) ?? Timestamp(nanoseconds: .min)) }
    }

    private func commonNow(_ leg: Leg) -> Timestamp? {
        readers[leg]!.now.map { clock.common($0, on: leg) }
    }

    /// How far both captures have been read, on the common clock; nil once both are done.
    private var horizon: Timestamp? {
        var earliest: Timestamp?
        for leg in [Leg.nearClient, .nearServer] where !readers[leg]!.isDone {
            guard let now = commonNow(leg) else { return Timestamp(nanoseconds: .min) }
            earliest = min(earliest ?? now, now)
        }
        return earliest
    }

    // MARK: Pairing

    private func handshake(_ facts: ConnectionFacts, on leg: Leg) {
        guard held[leg]![facts.id] == nil else { return }
        guard held[leg]!.count < options.maxHeld else {
            notKept[leg]! += 1
            return
        }
        let connection = HeldConnection(facts)
        held[leg]![connection.id] = connection
        if let key = connection.key {
            if let partner = takeOpen(key: key, on: leg.other) {
                pair(connection.id, on: leg, with: partner, by: .key)
            } else {
                openByKey[leg]![key, default: []].append(connection.id)
            }
        }
        peakHeld = max(peakHeld, held[.nearClient]!.count + held[.nearServer]!.count + awaiting.count)
    }

    private func ended(_ finished: FinishedConnection, on leg: Leg) {
        let facts = finished.facts
        guard facts.carriesWebSocket || facts.handshake != nil else { return }
        if held[leg]![facts.id] == nil {
            // Its answer was seen but it was past the bound; else it had none, and pairs now.
            guard facts.handshake?.status == nil else { return }
            handshake(facts, on: leg)
        }
        held[leg]![facts.id]?.connection = LegConnection(finished)
    }

    /// The first connection open for pairing on `leg` with `key`, taken out of the index.
    private func takeOpen(key: String, on leg: Leg) -> Int? {
        guard var ids = openByKey[leg]![key] else { return nil }
        defer { openByKey[leg]![key] = ids.isEmpty ? nil : ids }
        while !ids.isEmpty {
            let id = ids.removeFirst()
            if held[leg]![id]?.isOpenForPairing == true { return id }
        }
        return nil
    }

    private func pair(_ id: Int, on leg: Leg, with partner: Int, by how: ConnectionMatcher.MatchedBy) {
        held[leg]![id]!.partner = partner
        held[leg]![id]!.matchedBy = how
        held[leg.other]![partner]!.partner = id
        held[leg.other]![partner]!.matchedBy = how
    }

    private func common(_ time: Timestamp, on leg: Leg) -> Timestamp { clock.common(time, on: leg) }

    /// Pairs a near-client connection whose window has passed by request path, else marks
    /// it unmatched; near-server ones past their window are marked unmatched. Then hands on
    /// whatever is complete. `horizon` nil: the captures are read, everything is settled.
    private func settle(until horizon: Timestamp?, _ handOn: (Settled) -> Void) {
        let window = ConnectionMatcher.fallbackWindow
        func passed(_ time: Timestamp, by seconds: Double) -> Bool {
            horizon.map { time.adding(seconds: seconds) < $0 } ?? true
        }
        for id in held[.nearClient]!.keys.sorted() {
            let connection = held[.nearClient]![id]!
            guard connection.isOpenForPairing, passed(connection.requestedAt, by: window) else { continue }
            let candidates = held[.nearServer]!.values.filter { other in
                other.isOpenForPairing && other.path != nil && other.path == connection.path
                    && abs(common(other.requestedAt, on: .nearServer).seconds(since: connection.requestedAt)) <= window
            }
            if let counterpart = candidates.min(by: { $0.id < $1.id }) {
                pair(id, on: .nearClient, with: counterpart.id, by: .pathAndOrder)
            } else {
                held[.nearClient]![id]!.unmatched = true
            }
        }
        for (id, connection) in held[.nearServer]! where connection.isOpenForPairing
            && passed(common(connection.requestedAt, on: .nearServer), by: 2 * window) {
            held[.nearServer]![id]!.unmatched = true
        }

        var ready: [AlignedPair] = []
        for id in held[.nearClient]!.keys.sorted() {
            let connection = held[.nearClient]![id]!
            guard let partner = connection.partner, let nearClient = connection.connection,
                  let nearServer = held[.nearServer]![partner]?.connection else { continue }
            forget(id, on: .nearClient)
            forget(partner, on: .nearServer)
            let result = PairAligner(nearClient: nearClient, nearServer: nearServer, clock: clock).align()
            let aligned = AlignedPair(nearClient: nearClient, nearServer: nearServer, matchedBy: connection.matchedBy!, result: result)
            if let at = result.endedByIntermediaryAt {
                recentEnds.append(at)
                awaiting.append((aligned, at))
            } else {
                ready.append(aligned)
            }
        }
        let released = awaiting.filter { passed($0.endedAt, by: Self.endedTogetherWindow) }
        awaiting.removeAll { passed($0.endedAt, by: Self.endedTogetherWindow) }
        var pairs = ready.map { finish($0, endedTogether: nil) }
        pairs += released.map { aligned in
            finish(aligned.pair, endedTogether: recentEnds.filter { abs($0.seconds(since: aligned.endedAt)) <= Self.endedTogetherWindow }.count)
        }
        // Endings older than any still awaiting can count for no pair to come.
        if let horizon { recentEnds.removeAll { $0.adding(seconds: 2 * Self.endedTogetherWindow) < horizon } }
        for pair in pairs.sorted(by: { $0.nearClient.facts.id < $1.nearClient.facts.id }) {
            totals.add(pair)
            handOn(.pair(pair))
        }
        for leg in [Leg.nearClient, .nearServer] {
            for id in held[leg]!.keys.sorted() {
                let connection = held[leg]![id]!
                guard connection.unmatched, let finished = connection.connection else { continue }
                forget(id, on: leg)
                totals.addUnmatched(foundIn: leg)
                handOn(.unmatched(finished, foundIn: leg))
            }
        }
        if horizon == nil {
            // Captures read: what never ended (its end was never reported) is dropped.
            held = [.nearClient: [:], .nearServer: [:]]
            openByKey = [.nearClient: [:], .nearServer: [:]]
        }
    }

    private func forget(_ id: Int, on leg: Leg) {
        guard let connection = held[leg]!.removeValue(forKey: id), let key = connection.key else { return }
        openByKey[leg]![key]?.removeAll { $0 == id }
        if openByKey[leg]![key]?.isEmpty == true { openByKey[leg]![key] = nil }
    }

    private func finish(_ aligned: AlignedPair, endedTogether: Int?) -> PairComparison {
        var facts = CaptureComparison.pairFacts(aligned.result, aligned.nearClient, aligned.nearServer)
        if let endedTogether { facts.endedTogether = endedTogether }
        var context = FactContext(facts: aligned.nearClient.facts)
        context.pair = facts
        return PairComparison(nearClient: aligned.nearClient, nearServer: aligned.nearServer, matchedBy: aligned.matchedBy,
                              changes: aligned.result.changes, latency: aligned.result.latencies.compactMapValues(LatencySummary.init),
                              facts: facts, diagnosis: options.rules.diagnose(context),
                              endedByIntermediaryAt: aligned.result.endedByIntermediaryAt)
    }
}
