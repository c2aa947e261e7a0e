/// Pairs each connection of the near-client capture with its counterpart near the server.
///
/// Sec-WebSocket-Key first: it is random per connection and proxies forward it. Connections
/// left over (a key rewritten) are paired by request path in opening order, which is also the
/// order a forwarding intermediary opens its upstream connections, when their requests are
/// within `fallbackWindow` of each other on clocks aligned by the key-matched pairs.
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
    }

    /// Seconds between the two legs' requests within which a fallback match is believed. 5 s:
    /// an intermediary forwards a request in milliseconds, but it may first open its upstream
    /// connection, resolve a name or wait in a queue.
    public static let fallbackWindow: Double = 5

    public static func match(nearClient: [LegConnection], nearServer: [LegConnection]) -> Result {
        var serverByKey: [String: [Int]] = [:]
        for (index, connection) in nearServer.enumerated() {
            if let key = connection.key { serverByKey[key, default: []].append(index) }
        }
        var taken = Set<Int>()
        var found: [Int: Match] = [:]
        for (index, connection) in nearClient.enumerated() {
            guard let key = connection.key, let candidates = serverByKey[key],
                  let counterpart = candidates.first(where: { !taken.contains($0) }) else { continue }
            taken.insert(counterpart)
            found[index] = Match(nearClient: index, nearServer: counterpart, matchedBy: .key)
        }
        let offset = ClockOffset.estimate(found.values.map { (nearClient[$0.nearClient], nearServer[$0.nearServer]) }).seconds
        // A near-server connection whose key a near-client one carries is never a fallback.
        let clientKeys = Set(nearClient.compactMap(\.key))
        for (index, connection) in nearClient.enumerated() where found[index] == nil {
            guard let path = connection.path, let requested = connection.facts.handshake?.requestedAt,
                  let counterpart = nearServer.indices.first(where: { candidate in
                      guard !taken.contains(candidate), let other = nearServer[candidate].facts.handshake,
                            other.path == path, !(nearServer[candidate].key.map(clientKeys.contains) ?? false) else { return false }
                      return abs(other.requestedAt.seconds(since: requested) - offset) <= fallbackWindow
                  })
            else { continue }
            taken.insert(counterpart)
            found[index] = Match(nearClient: index, nearServer: counterpart, matchedBy: .pathAndOrder)
        }
        return Result(matches: nearClient.indices.compactMap { found[$0] },
                      onlyNearClient: nearClient.indices.filter { found[$0] == nil },
                      onlyNearServer: nearServer.indices.filter { !taken.contains($0) })
    }

}
