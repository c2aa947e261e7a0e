import Diagnosis

/// Pairs each connection of the near-client capture with its counterpart near the server.
///
/// Sec-WebSocket-Key first: it is random per connection and proxies forward it. Connections
/// left over (a key rewritten) are paired by request path in opening order, which is also the
/// order a forwarding intermediary opens its upstream connections, when their requests are
/// within `fallbackWindow` of each other on clocks aligned by the key-matched pairs — or,
/// when no key matched, by the handshakes of the path-and-order pairs themselves (the n-th
/// request for a path near the client with the n-th near the server), so captures from
/// hosts whose clocks differ by more than the window still pair.
public enum ConnectionMatcher {
    public enum MatchedBy: String, Sendable, Hashable {
        case key = "sec-websocket-key"
        case pathAndOrder = "path-and-order"
    }

    public struct Match: Sendable, Hashable {
        public var nearClient: Int
        public var nearServer: Int
        public var matchedBy: MatchedBy
    }

    public struct Result: Sendable, Hashable {
        /// In the near-client capture's opening order.
        public var matches: [Match]
        public var onlyNearClient: [Int]
        public var onlyNearServer: [Int]
        /// From the key-matched pairs, else from the path-and-order ones.
        public var clock: ClockOffset
    }

    /// Seconds between the two legs' requests within which a fallback match is believed. 5 s:
    /// an intermediary forwards a request in milliseconds, but it may first open its upstream
    /// connection, resolve a name or wait in a queue.
    public static let fallbackWindow: Double = 5

    public static func match(nearClient: [ConnectionFacts], nearServer: [ConnectionFacts]) -> Result {
        var serverByKey: [String: [Int]] = [:]
        for (index, connection) in nearServer.enumerated() {
            if let key = Self.key(connection) { serverByKey[key, default: []].append(index) }
        }
        var taken = Set<Int>()
        var found: [Int: Match] = [:]
        for (index, connection) in nearClient.enumerated() {
            guard let key = Self.key(connection), let candidates = serverByKey[key],
                  let counterpart = candidates.first(where: { !taken.contains($0) }) else { continue }
            taken.insert(counterpart)
            found[index] = Match(nearClient: index, nearServer: counterpart, matchedBy: .key)
        }
        let keyed = found.values.sorted { $0.nearClient < $1.nearClient }.map { (nearClient[$0.nearClient], nearServer[$0.nearServer]) }
        // A near-server connection whose key a near-client one carries is never a fallback.
        let clientKeys = Set(nearClient.compactMap(Self.key))
        let candidates = nearServer.indices.filter { !taken.contains($0) && !(Self.key(nearServer[$0]).map(clientKeys.contains) ?? false) }
        let offset = keyed.isEmpty
            ? Self.offsetWithoutKeys(inOrder(nearClient.indices.filter { found[$0] == nil }, candidates, nearClient, nearServer))
            : ClockOffset.estimate(keyed).seconds
        for (index, connection) in nearClient.enumerated() where found[index] == nil {
            guard let path = connection.handshake?.path, let requested = connection.handshake?.requestedAt,
                  let counterpart = candidates.first(where: { candidate in
                      guard !taken.contains(candidate), let other = nearServer[candidate].handshake, other.path == path else { return false }
                      return abs(other.requestedAt.seconds(since: requested) - offset) <= fallbackWindow
                  })
            else { continue }
            taken.insert(counterpart)
            found[index] = Match(nearClient: index, nearServer: counterpart, matchedBy: .pathAndOrder)
        }
        let matches = nearClient.indices.compactMap { found[$0] }
        return Result(matches: matches,
                      onlyNearClient: nearClient.indices.filter { found[$0] == nil },
                      onlyNearServer: nearServer.indices.filter { !taken.contains($0) },
                      clock: keyed.isEmpty ? ClockOffset.estimate(matches.map { (nearClient[$0.nearClient], nearServer[$0.nearServer]) })
                          : ClockOffset.estimate(keyed))
    }

    /// The offset the path-and-order pairs' handshakes give, believed only from two pairs or
    /// more whose bounds agree: one pair fits any offset, so two unrelated captures of the
    /// same path would always pair. Else 0.
    static func offsetWithoutKeys(_ pairs: [(nearClient: ConnectionFacts, nearServer: ConnectionFacts)]) -> Double {
        let answered = pairs.filter { $0.nearClient.handshake?.answeredAt != nil && $0.nearServer.handshake?.answeredAt != nil }
        let estimate = ClockOffset.estimate(answered)
        return answered.count >= 2 && estimate.lowerBound != nil ? estimate.seconds : 0
    }

    /// The n-th request for each path near the client with the n-th near the server, whatever
    /// their times: the pairs the clock offset is first estimated from when no key matched.
    static func inOrder(_ clientSide: [Int], _ serverSide: [Int], _ nearClient: [ConnectionFacts],
                        _ nearServer: [ConnectionFacts]) -> [(nearClient: ConnectionFacts, nearServer: ConnectionFacts)] {
        var serverByPath: [String: [Int]] = [:]
        for index in serverSide {
            if let path = nearServer[index].handshake?.path { serverByPath[path, default: []].append(index) }
        }
        var used: [String: Int] = [:]
        return clientSide.compactMap { index in
            guard let path = nearClient[index].handshake?.path, let queue = serverByPath[path], used[path, default: 0] < queue.count else { return nil }
            defer { used[path, default: 0] += 1 }
            return (nearClient[index], nearServer[queue[used[path, default: 0]]])
        }
    }

    /// The connection's Sec-WebSocket-Key, random per connection.
    static func key(_ facts: ConnectionFacts) -> String? {
        facts.handshake?.requestHeaders["Sec-WebSocket-Key"]
    }
}
