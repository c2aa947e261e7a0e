import Diagnosis
import Foundation
import Reconnects
import Testing
import WebSocketWire

/// The tracker fed by hand: attempts and ends in time order, the judged episodes out.
@Suite struct ReconnectTrackerTests {
    private static let base = Timestamp(seconds: 1_800_000_000, nanoseconds: 0)

    /// A connection from `client` to /feed over [start, end] seconds after `base`.
    private static func facts(_ id: Int, client: String = "10.0.0.7", start: Double, end: Double?, status: Int = 101,
                              serverCode: UInt16? = nil, clientCode: UInt16? = nil, token: String? = nil,
                              headers extra: [(String, String)] = []) -> ConnectionFacts {
        let opened = base.adding(seconds: start)
        var facts = ConnectionFacts(id: id, client: Endpoint(address: client, port: UInt16(40_000 + id)),
                                    server: Endpoint(address: "10.0.0.1", port: 443), opened: opened, sawTCPOpen: true, sidesGuessed: false)
        var fields = [(name: "Host", value: "example.com")]
        if let token { fields.append((name: "Authorization", value: "Bearer \(token)")) }
        let headers = HTTPHeaders(fields + extra.map { (name: $0.0, value: $0.1) })
        var handshake = HandshakeFacts(method: "GET", target: "/feed?x=1", host: "example.com", requestHeaders: headers, requestedAt: opened)
        handshake.status = status
        handshake.upgraded = status == 101
        handshake.answeredAt = opened.adding(seconds: 0.001)
        facts.handshake = handshake
        if let end {
            let at = base.adding(seconds: end)
            if let serverCode { facts.serverClose = CloseFacts(code: serverCode, reason: "", at: at, frameIndex: 0, offset: 0) }
            if let clientCode { facts.clientClose = CloseFacts(code: clientCode, reason: "", at: at, frameIndex: 0, offset: 0) }
            facts.transport.firstEndAt = at
            facts.closed = at
        }
        return facts
    }

    private static func run(_ connections: [ConnectionFacts], key: ClientKey = .address,
                            configuration: ReconnectTracker.Configuration = ReconnectTracker.Configuration()) -> [ReconnectEpisode] {
        var tracker = ReconnectTracker(configuration: configuration)
        var episodes: [ReconnectEpisode] = []
        for facts in connections {
            guard let attempt = ConnectionAttempt(facts, key: key, ended: true) else { continue }
            episodes += tracker.advance(to: attempt.startedAt)
            episodes += tracker.ended(attempt)
        }
        return episodes + tracker.finish()
    }

    /// Closes with `code` at each of `starts`' connections 0.01 s in, the last one stays up 30 s.
    private static func series(_ starts: [Double], code: UInt16 = 1013, client: String = "10.0.0.7", firstID: Int = 0) -> [ConnectionFacts] {
        starts.enumerated().map { index, start in
            index == starts.count - 1
                ? facts(firstID + index, client: client, start: start, end: start + 30, clientCode: 1000)
                : facts(firstID + index, client: client, start: start, end: start + 0.01, serverCode: code)
        }
    }

    @Test func aClientThatComesBackAtOnceHasNoBackoff() throws {
        let episodes = Self.run(Self.series([0, 0.02, 0.04, 0.06]))
        let episode = try #require(episodes.first)
        #expect(episodes.count == 1)
        #expect(episode.facts.afterCode == 1013)
        #expect(episode.facts.attempts == 3)
        #expect(episode.facts.outcome == .reconnected)
        #expect(episode.diagnosis.id == "no-backoff-overload")
        #expect(episode.diagnosis.category == "no-backoff")
        #expect(episode.diagnosis.evidence.contains { $0.fact == "reconnect.first_delay" && $0.value.numeric! < 0.02 })
    }

    @Test func doublingDelaysWithJitterAreBackoffOK() throws {
        // Delays 1.1, 2.5, 4.3, 9.6, 13.5: from each close (0.01 s after its start) to the next attempt.
        let episode = try #require(Self.run(Self.series([0, 1.11, 3.62, 7.93, 17.54, 31.05])).first)
        #expect(episode.facts.delays.map { ($0 * 100).rounded() / 100 } == [1.1, 2.5, 4.3, 9.6, 13.5])
        #expect(episode.diagnosis.category == "backoff-ok")
        #expect(try #require(episode.facts.growth) > 1.5)
        #expect(try #require(episode.facts.jitter) > 0.05)
        // Four delays are too few to tell jitter: the verdict rests on the first delay and growth.
        let short = try #require(Self.run(Self.series([0, 1.11, 3.62, 7.93, 17.54])).first)
        #expect(short.facts.jitter == nil)
        #expect(short.diagnosis.id == "backoff-ok")
    }

    @Test func exactDoublingIsNoJitter() throws {
        let episode = try #require(Self.run(Self.series([0, 1.01, 3.02, 7.03, 15.04, 31.05])).first)
        #expect(episode.diagnosis.id == "no-jitter")
        #expect(try #require(episode.facts.jitter) < 0.01)
    }

    @Test func timerNoiseIsNotJitter() throws {
        // Exact 0.6 s × 1.5ⁿ delays, each woken up to 0.09 s late, as on a loaded machine.
        let late = [0.09, 0.01, 0.06, 0.0, 0.08]
        let delays = late.enumerated().map { index, noise in 0.6 * pow(1.5, Double(index)) + noise }
        var facts = ReconnectFacts(client: "c", path: "/")
        facts.delays = delays
        #expect(try #require(facts.jitter) < 0.001)
        // Half of each delay's length at random is jitter, whatever the noise.
        facts.delays = [0.9, 0.75, 1.6, 1.8, 4.3]
        #expect(try #require(facts.jitter) > 0.1)
    }

    @Test func aFixedDelayIsAFixedInterval() throws {
        let episode = try #require(Self.run(Self.series([0, 2.01, 4.02, 6.03])).first)
        #expect(episode.diagnosis.id == "fixed-interval")
        #expect(episode.diagnosis.evidence.contains { $0.fact == "reconnect.growth" && abs($0.value.numeric! - 1) < 0.01 })
    }

    @Test func repeatedProtocolErrorsArePointless() throws {
        let connections = (0..<5).map { Self.facts($0, start: Double($0) * 0.1, end: Double($0) * 0.1 + 0.01, serverCode: 1002) }
        let episode = try #require(Self.run(connections).first)
        #expect(episode.diagnosis.id == "retry-pointless")
        #expect(episode.facts.repeats == 4)
        #expect(episode.facts.outcome == .stillTrying)
    }

    /// Two 503 refusals with `Retry-After: retryAfter`, after `delay` s each, then in.
    private static func refusedTwice(retryAfter: String, delay: Double) -> [ConnectionFacts] {
        var connections = (0..<2).map { index in
            var refused = facts(index, start: Double(index) * (delay + 0.001), end: Double(index) * (delay + 0.001) + 0.001, status: 503)
            refused.handshake?.responseHeaders = HTTPHeaders([(name: "Retry-After", value: retryAfter)])
            return refused
        }
        connections.append(facts(2, start: 2 * (delay + 0.001), end: 2 * (delay + 0.001) + 30, clientCode: 1000))
        return connections
    }

    @Test func waitingWhatRetryAfterAsksIsHonouredEvenAtAFixedInterval() throws {
        let episode = try #require(Self.run(Self.refusedTwice(retryAfter: "2", delay: 2)).first)
        #expect(episode.diagnosis.id == "retry-after-honoured")
        #expect(episode.facts.retryAfter == 2 && episode.facts.retryAfterHonoured == true)
        #expect(episode.diagnosis.evidence.contains { $0.fact == "reconnect.retry_after" && $0.value.numeric == 2 })
    }

    @Test func comingBackBeforeRetryAfterIgnoresIt() throws {
        let episode = try #require(Self.run(Self.refusedTwice(retryAfter: " 5 ", delay: 1.5)).first)
        #expect(episode.diagnosis.id == "retry-after-ignored")
        #expect(episode.diagnosis.category == "no-backoff")
        #expect(episode.facts.retryAfterHonoured == false)
        // An HTTP date is not a number of seconds: nothing is asked, the usual advice applies.
        let dated = try #require(Self.run(Self.refusedTwice(retryAfter: "Fri, 31 Dec 1999 23:59:59 GMT", delay: 0.1)).first)
        #expect(dated.facts.retryAfter == nil && dated.facts.retryAfterHonoured == nil)
        #expect(dated.diagnosis.id == "no-backoff-overload")
    }

    @Test func theExpiredTokenReusedIsSameToken() throws {
        let exp = Int(Self.base.nanoseconds / 1_000_000_000) + 5
        let token = Self.jwt(#"{"sub":"u","iat":\#(exp - 5),"exp":\#(exp)}"#)
        let fresh = Self.jwt(#"{"sub":"u","iat":\#(exp),"exp":\#(exp + 60)}"#)
        let reused = [Self.facts(0, start: 0, end: 5, serverCode: 1008, token: token),
                      Self.facts(1, start: 6, end: 6.01, status: 401, token: token)]
        let episode = try #require(Self.run(reused).first)
        #expect(episode.diagnosis.id == "same-token")
        #expect(episode.facts.sameToken == true)
        let renewed = [Self.facts(0, start: 0, end: 5, serverCode: 1008, token: token),
                       Self.facts(1, start: 6, end: 40, clientCode: 1000, token: fresh)]
        #expect(Self.run(renewed).first?.diagnosis.id == "new-token")
    }

    @Test func aClientThatNeverReturnsGaveUp() throws {
        var configuration = ReconnectTracker.Configuration()
        configuration.giveUpAfter = 5
        let connections = [Self.facts(0, start: 0, end: 1, serverCode: 1013), Self.facts(1, client: "10.0.0.8", start: 20, end: 21, clientCode: 1000)]
        let episodes = Self.run(connections, configuration: configuration)
        #expect(episodes.count == 1)
        #expect(episodes.first?.facts.outcome == .gaveUp)
        #expect(episodes.first?.diagnosis.id == "never-came-back")
    }

    @Test func manyClientsBackInOneSecondAreAStorm() throws {
        var connections: [ConnectionFacts] = []
        for index in 0..<25 {
            let client = "10.0.1.\(index)"
            connections.append(Self.facts(index * 2, client: client, start: 0, end: 0.01 + Double(index) * 0.001, serverCode: 1012))
        }
        for index in 0..<25 {
            connections.append(Self.facts(index * 2 + 1, client: "10.0.1.\(index)", start: 0.05 + Double(index) * 0.02, end: 60, clientCode: 1000))
        }
        let episodes = Self.run(connections)
        #expect(episodes.count == 25)
        #expect(episodes.allSatisfy { $0.diagnosis.id == "reconnect-storm" })
        let middle = try #require(episodes.first { $0.facts.client == "10.0.1.12" })
        #expect(middle.facts.backTogether == 25)
        #expect(middle.facts.spreadHistogram.reduce(0, +) == 25)
    }

    @Test func aHeaderKeyGroupsClientsBehindOneAddress() throws {
        let one = Self.series([0, 0.02, 0.04], client: "10.0.0.9").enumerated().map { index, facts in
            var facts = facts
            facts.handshake?.requestHeaders = HTTPHeaders([(name: "X-Client-Id", value: "alpha")])
            facts.id = index * 2
            return facts
        }
        let two = Self.series([0.01, 2.03], client: "10.0.0.9").enumerated().map { index, facts in
            var facts = facts
            facts.handshake?.requestHeaders = HTTPHeaders([(name: "X-Client-Id", value: "beta")])
            facts.id = index * 2 + 1
            return facts
        }
        let merged = (one + two).sorted { $0.opened < $1.opened }
        let episodes = Self.run(merged, key: .header("X-Client-Id"))
        #expect(Set(episodes.map(\.facts.client)) == ["alpha", "beta"])
        #expect(episodes.first { $0.facts.client == "beta" }?.facts.attempts == 1)
        #expect(throws: ClientKeyError.self) { try ClientKey(argument: "header:Authorization") }
        #expect(throws: ClientKeyError.self) { try ClientKey(argument: "port") }
    }

    @Test func aLiveFeedGivesTheSameEpisodeAsAReplay() throws {
        // Live: the upgrade is answered first, the end comes later, time passes in between.
        let connections = Self.series([0, 1.11, 3.62, 7.93, 17.54])
        var tracker = ReconnectTracker()
        var live: [ReconnectEpisode] = []
        for facts in connections {
            var opening = facts
            opening.serverClose = nil
            opening.clientClose = nil
            let attempt = try #require(ConnectionAttempt(opening, key: .address, ended: false))
            live += tracker.advance(to: attempt.startedAt)
            live += tracker.attempted(attempt)
            let end = try #require(ConnectionAttempt(facts, key: .address, ended: true))
            if facts.clientClose == nil { live += tracker.ended(end) }
        }
        live += tracker.advance(to: Self.base.adding(seconds: 17.54 + 10.5))
        #expect(live.count == 1)
        let replayed = try #require(Self.run(connections).first)
        #expect(live.first?.facts == replayed.facts)
        #expect(live.first?.diagnosis.id == replayed.diagnosis.id)
    }

    @Test func anAttemptAnsweredBeforeTheEndBeforeItIsProcessedKeepsItsDelay() throws {
        // Live, the proxy can answer attempt n+1's upgrade before it has processed attempt n's
        // end: the delays and the outcome must be those of the replay all the same.
        let connections = Self.series([0, 0.05, 0.1, 0.15])
        var tracker = ReconnectTracker()
        var live: [ReconnectEpisode] = []
        var previous: ConnectionAttempt?
        for facts in connections {
            var opening = facts
            opening.serverClose = nil
            opening.clientClose = nil
            live += tracker.attempted(try #require(ConnectionAttempt(opening, key: .address, ended: false)))
            if let previous { live += tracker.ended(previous) }
            previous = facts.clientClose == nil ? ConnectionAttempt(facts, key: .address, ended: true) : nil
        }
        live += tracker.advance(to: Self.base.adding(seconds: 12))
        let replayed = try #require(Self.run(connections).first)
        #expect(live.count == 1)
        #expect(live.first?.facts == replayed.facts)
        #expect(replayed.facts.outcome == .reconnected)
        #expect(replayed.facts.delays.map { ($0 * 100).rounded() / 100 } == [0.04, 0.04, 0.04])
    }

    private static func jwt(_ payload: String) -> String {
        func encode(_ text: String) -> String {
            Data(text.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
        }
        return encode(#"{"alg":"HS256","typ":"JWT"}"#) + "." + encode(payload) + ".c2lnbmF0dXJl"
    }
}
