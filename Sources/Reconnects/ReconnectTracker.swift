import Diagnosis
import WebSocketWire

/// Follows each client's connection attempts after a close, and hands back each finished
/// reconnect episode judged by the reconnect rules.
///
/// A value-type state machine fed in time order: `attempted` when an upgrade is answered
/// (the live feeders), `ended` when a connection is over (every feeder; it records the
/// attempt first when `attempted` was not called), `advance` as time passes, and `finish`
/// when wsdoctor stops or the capture ends. Each returns the episodes now complete. An
/// episode waits `ReconnectFacts.stormWindow` past its first reconnect before it is judged,
/// so the clients that came back with it are all counted, live and in replay alike. An
/// episode cut short by the stop before any attempt is not handed back: it shows nothing.
public struct ReconnectTracker: Sendable {
    public struct Configuration: Sendable {
        /// Seconds a reconnect must stay connected to end its episode as reconnected. 10 s:
        /// longer than a server that accepts and then sheds load takes to close again.
        public var settle: Double = 10
        /// Seconds without a new attempt after a failure before the client has given up.
        /// 120 s: above the longest backoff caps in common use (websockets 90 s, most
        /// libraries 30–60 s), so a slow but patient client is not called a quitter.
        public var giveUpAfter: Double = 120
        /// Clients followed at once. 10,000 clients are a few MiB; past it, new clients are
        /// not followed (`clientsNotFollowed` counts them).
        public var maxClients = 10_000
        /// Delays kept per episode; later attempts are still counted. 100 is far more than
        /// any advice needs to be judged.
        public var maxDelaysKept = 100
        /// First reconnects remembered for counting storms; the oldest go first. 100,000
        /// are about 3 MiB.
        public var maxFirstReconnects = 100_000
        /// Seconds past `exp` within which a token counts as expired at the close, as the
        /// token rules allow for clock skew.
        public var expiryTolerance: Double = 2

        public init() {}
    }

    public let rules: RuleSet
    public let configuration: Configuration
    /// Clients not followed because `maxClients` were followed already.
    public private(set) var clientsNotFollowed = 0

    private struct Episode: Sendable {
        var facts: ReconnectFacts
        var closedAt: Timestamp
        var lastFailureAt: Timestamp
        /// Each attempt's start, and each failure's end (the close, then each failed
        /// attempt's): delay k runs from failure k to attempt k. Paired by position, not
        /// computed as they come, since live an attempt can be answered before the end of
        /// the one before it is processed.
        var attemptStarts: [Timestamp] = []
        var failureEnds: [Timestamp]
        /// What each failure's Retry-After asked, by the same position (nil: nothing).
        var failureRetryAfters: [Double?]
        var expiredToken: JSONWebTokenClaims?
        var firstReconnectAt: Timestamp?
        /// The latest attempt upgraded at this time and is still open.
        var connectedSince: Timestamp?
        var connectedID: Int?
    }

    private struct Client: Sendable {
        /// Attempts started and not yet ended (at most 16).
        var open: [ConnectionAttempt] = []
        var episode: Episode?
    }

    private struct FirstReconnect: Sendable {
        var at: Timestamp
        var path: String
    }

    private var clients: [String: Client] = [:]
    /// In time order.
    private var firstReconnects: [FirstReconnect] = []
    /// Complete, waiting for the storm window to pass.
    private var complete: [Episode] = []
    private var latest: Timestamp?
    private var nextSweep: Timestamp?

    public init(rules: RuleSet = .defaults(), configuration: Configuration = Configuration()) {
        self.rules = rules
        self.configuration = configuration
    }

    /// An upgrade was answered (live): the attempt starts now.
    public mutating func attempted(_ attempt: ConnectionAttempt) -> [ReconnectEpisode] {
        note(attempt.startedAt)
        let key = Self.key(attempt)
        guard var client = clients[key] ?? newClient() else { return release() }
        start(attempt, in: &client)
        clients[key] = client
        return release()
    }

    /// A connection is over (or still open when the capture or wsdoctor stopped).
    public mutating func ended(_ attempt: ConnectionAttempt) -> [ReconnectEpisode] {
        // Its start, not its end: a replay feeds connections in opening order, and the clock
        // must not run ahead of attempts not yet fed (they would be missed from storms).
        note(attempt.startedAt)
        let key = Self.key(attempt)
        guard var client = clients[key] ?? newClient() else { return release() }
        if let index = client.open.firstIndex(where: { $0.connectionID == attempt.connectionID }) {
            client.open.remove(at: index)
        } else {
            start(attempt, in: &client)
            client.open.removeAll { $0.connectionID == attempt.connectionID }
        }
        end(attempt, in: &client)
        clients[key] = client.episode == nil && client.open.isEmpty ? nil : client
        return release()
    }

    /// Time has passed: episodes whose client stayed connected or stopped trying are complete.
    public mutating func advance(to now: Timestamp) -> [ReconnectEpisode] {
        note(now)
        if let nextSweep, now < nextSweep { return release() }
        nextSweep = now.adding(seconds: 1)
        for (key, client) in clients {
            guard let episode = client.episode, let outcome = settledOutcome(of: episode, client: client, at: now) else { continue }
            finishEpisode(episode, outcome)
            var remaining = client
            remaining.episode = nil
            clients[key] = remaining.open.isEmpty ? nil : remaining
        }
        return release()
    }

    /// wsdoctor stops or the capture ended: every episode is complete as it stands.
    public mutating func finish() -> [ReconnectEpisode] {
        let now = latest ?? Timestamp(nanoseconds: 0)
        for key in clients.keys.sorted() {
            guard let episode = clients[key]?.episode else { continue }
            let outcome: ReconnectFacts.Outcome
            if episode.connectedSince != nil {
                outcome = .reconnected
            } else if clients[key]!.open.isEmpty, now.seconds(since: episode.lastFailureAt) > configuration.giveUpAfter {
                outcome = .gaveUp
            } else {
                outcome = .stillTrying
            }
            finishEpisode(episode, outcome)
        }
        clients.removeAll()
        return release(all: true)
    }

    // MARK: Steps

    private mutating func start(_ attempt: ConnectionAttempt, in client: inout Client) {
        client.open.append(attempt)
        if client.open.count > 16 { client.open.removeFirst() }
        guard let episode = client.episode else { return }
        if episode.connectedSince == nil, client.open.count == 1,
           attempt.startedAt.seconds(since: episode.lastFailureAt) > configuration.giveUpAfter {
            finishEpisode(episode, .gaveUp)
            client.episode = nil
            return
        }
        count(attempt, in: &client)
    }

    /// `attempt` is one of the client's attempts after the close.
    private mutating func count(_ attempt: ConnectionAttempt, in client: inout Client) {
        guard var episode = client.episode else { return }
        episode.facts.attempts += 1
        if episode.attemptStarts.count < configuration.maxDelaysKept { episode.attemptStarts.append(attempt.startedAt) }
        if episode.firstReconnectAt == nil {
            episode.firstReconnectAt = attempt.startedAt
            noteFirstReconnect(FirstReconnect(at: attempt.startedAt, path: attempt.path))
        }
        if let expired = episode.expiredToken {
            episode.facts.sameToken = episode.facts.sameToken == true || Self.sameCredential(attempt.token, expired)
        }
        if !attempt.upgraded, let status = episode.facts.afterStatus, attempt.status == status { episode.facts.repeats += 1 }
        if attempt.upgraded {
            episode.connectedSince = attempt.startedAt
            episode.connectedID = attempt.connectionID
        }
        client.episode = episode
    }

    private mutating func end(_ attempt: ConnectionAttempt, in client: inout Client) {
        guard let endedAt = attempt.endedAt else { return }
        if var episode = client.episode {
            let isConnected = episode.connectedID == attempt.connectionID
            if isConnected, let since = episode.connectedSince, endedAt.seconds(since: since) >= configuration.settle {
                finishEpisode(episode, .reconnected)
                client.episode = nil
            } else {
                episode.lastFailureAt = max(episode.lastFailureAt, endedAt)
                if episode.failureEnds.count < configuration.maxDelaysKept {
                    episode.failureEnds.append(endedAt)
                    episode.failureRetryAfters.append(attempt.retryAfter)
                }
                if isConnected {
                    episode.connectedSince = nil
                    episode.connectedID = nil
                }
                if let code = attempt.serverCloseCode, episode.facts.afterCode == Int(code) { episode.facts.repeats += 1 }
                client.episode = episode
                return
            }
        }
        guard attempt.failed else { return }
        var facts = ReconnectFacts(client: attempt.client, path: attempt.path)
        var expired: JSONWebTokenClaims?
        if attempt.upgraded {
            facts.afterCode = attempt.serverCloseCode.map(Int.init)
        } else {
            facts.afterStatus = attempt.status
        }
        if let token = attempt.token, let expires = token.expires, expires <= endedAt.adding(seconds: configuration.expiryTolerance) {
            facts.tokenExpired = true
            facts.sameToken = false
            expired = token
        }
        client.episode = Episode(facts: facts, closedAt: endedAt, lastFailureAt: endedAt, failureEnds: [endedAt],
                                 failureRetryAfters: [attempt.retryAfter], expiredToken: expired)
        // Live, the next attempt can be answered before this end is processed: it counts.
        for later in client.open where later.startedAt > attempt.startedAt { count(later, in: &client) }
    }

    private func settledOutcome(of episode: Episode, client: Client, at now: Timestamp) -> ReconnectFacts.Outcome? {
        if let since = episode.connectedSince {
            return now.seconds(since: since) >= configuration.settle ? .reconnected : nil
        }
        return client.open.isEmpty && now.seconds(since: episode.lastFailureAt) > configuration.giveUpAfter ? .gaveUp : nil
    }

    private mutating func finishEpisode(_ episode: Episode, _ outcome: ReconnectFacts.Outcome) {
        // Stopped before the client had a chance to come back: nothing to judge.
        guard episode.facts.attempts > 0 || outcome != .stillTrying else { return }
        var episode = episode
        episode.facts.outcome = outcome
        episode.facts.delays = zip(episode.attemptStarts, episode.failureEnds).map { start, end in max(0, start.seconds(since: end)) }
        let asked = zip(episode.facts.delays, episode.failureRetryAfters).compactMap { delay, retryAfter in retryAfter.map { (delay, $0) } }
        if !asked.isEmpty {
            episode.facts.retryAfter = asked.map(\.1).max()
            episode.facts.retryAfterHonoured = asked.allSatisfy { delay, retryAfter in delay >= retryAfter - ReconnectFacts.retryAfterTolerance }
        }
        complete.append(episode)
    }

    /// Judges and hands back the complete episodes whose storm window has passed.
    private mutating func release(all: Bool = false) -> [ReconnectEpisode] {
        guard !complete.isEmpty else { return [] }
        var ready: [ReconnectEpisode] = []
        var waiting: [Episode] = []
        for episode in complete {
            if !all, let first = episode.firstReconnectAt, let latest, latest < first.adding(seconds: ReconnectFacts.stormWindow) {
                waiting.append(episode)
                continue
            }
            var facts = episode.facts
            if let first = episode.firstReconnectAt { countStorm(around: first, path: facts.path, into: &facts) }
            ready.append(ReconnectEpisode(facts: facts, diagnosis: rules.diagnose(FactContext(reconnect: facts)), closedAt: episode.closedAt))
        }
        complete = waiting
        return ready
    }

    // MARK: Storms

    private mutating func noteFirstReconnect(_ entry: FirstReconnect) {
        // After any entry at the same time; at the end, the usual case, this is an append.
        firstReconnects.insert(entry, at: firstIndex(notBefore: Timestamp(nanoseconds: entry.at.nanoseconds &+ 1)))
        if firstReconnects.count > configuration.maxFirstReconnects {
            firstReconnects.removeFirst(max(1, configuration.maxFirstReconnects / 10))
        }
    }

    private func countStorm(around first: Timestamp, path: String, into facts: inout ReconnectFacts) {
        let window = ReconnectFacts.stormWindow
        var times: [Timestamp] = []
        var index = firstIndex(notBefore: first.adding(seconds: -window))
        let last = first.adding(seconds: window)
        while index < firstReconnects.count, firstReconnects[index].at <= last {
            if firstReconnects[index].path == path { times.append(firstReconnects[index].at) }
            index += 1
        }
        guard let earliest = times.first, let latestTime = times.last else { return }
        facts.backTogether = max(1, times.count)
        facts.spread = latestTime.seconds(since: earliest)
        var histogram = [Int](repeating: 0, count: Int(facts.spread * 10) + 1)
        for time in times { histogram[min(histogram.count - 1, Int(time.seconds(since: earliest) * 10))] += 1 }
        facts.spreadHistogram = histogram
    }

    /// The first entry at or after `time` (binary search; entries are in time order).
    private func firstIndex(notBefore time: Timestamp) -> Int {
        var low = 0, high = firstReconnects.count
        while low < high {
            let middle = (low + high) / 2
            if firstReconnects[middle].at < time { low = middle + 1 } else { high = middle }
        }
        return low
    }

    // MARK: Helpers

    private mutating func note(_ time: Timestamp) {
        if latest == nil || time > latest! { latest = time }
    }

    private mutating func newClient() -> Client? {
        guard clients.count < configuration.maxClients else {
            clientsNotFollowed += 1
            return nil
        }
        return Client()
    }

    private static func key(_ attempt: ConnectionAttempt) -> String {
        attempt.client + " " + attempt.path
    }

    /// The same credential: the same time claims (the token itself is never kept).
    private static func sameCredential(_ token: JSONWebTokenClaims?, _ expired: JSONWebTokenClaims) -> Bool {
        guard let token else { return false }
        return token.expires == expired.expires && token.issued == expired.issued && token.notBefore == expired.notBefore
    }
}
