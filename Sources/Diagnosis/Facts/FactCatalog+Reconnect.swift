/// Facts of a reconnect episode (how one client came back after a close): absent for a
/// connection, so a rule naming one judges episodes only.
extension FactCatalog {
    static let reconnect: [FactDefinition] = [
        reconnectFact("reconnect.client", .string, "the client's key: its address (without the port), or the --client-key header's value") { .string($0.client) },
        reconnectFact("reconnect.path", .string, "the request path the client came back to") { .string($0.path) },
        reconnectFact("reconnect.after_code", .int, "the close code that started the episode (absent: no close frame, or a refused upgrade)") { episode in
            episode.afterCode.map { .int(Int64($0)) }
        },
        reconnectFact("reconnect.after_status", .int, "the HTTP status of the refused upgrade that started the episode") { episode in
            episode.afterStatus.map { .int(Int64($0)) }
        },
        reconnectFact("reconnect.after", .string, "what started the episode, in words: a close code and its name, a refused upgrade and its status, or an end without a close frame") { .string($0.after) },
        reconnectFact("reconnect.token_expired", .bool, "the closed connection carried a JSON Web Token that had expired when it closed") { .bool($0.tokenExpired) },
        reconnectFact("reconnect.attempts", .int, "connection attempts after the close (refused upgrades count)") { .int(Int64($0.attempts)) },
        reconnectFact("reconnect.delays", .list, "seconds from each failure to the next attempt, in order") { episode in
            .list(episode.delaysInMilliseconds)
        },
        reconnectFact("reconnect.first_delay", .number, "seconds from the close to the first attempt") { $0.delays.first.map { .number($0) } },
        reconnectFact("reconnect.shortest_delay", .number, "the shortest of the delays") { $0.delays.min().map { .number($0) } },
        reconnectFact("reconnect.longest_delay", .number, "the longest of the delays") { $0.delays.max().map { .number($0) } },
        reconnectFact("reconnect.growth", .number, "the median ratio of each delay to the one before (2: doubling, 1: a fixed interval; needs two delays)") { episode in
            episode.growth.map { .number($0) }
        },
        reconnectFact("reconnect.jitter", .number, "how far the delays stray from a smooth geometric series beyond 0.1 s of timer noise each (residual deviation of their logarithms: 0.1 is about 10 %, under 0.02 no jitter; needs five delays)") { episode in
            episode.jitter.map { .number($0) }
        },
        reconnectFact("reconnect.outcome", .string, "reconnected (stayed connected), gave-up (stopped trying) or still-trying (wsdoctor stopped first)") { .string($0.outcome.rawValue) },
        reconnectFact("reconnect.gave_up", .bool, "the client stopped trying within the bound") { .bool($0.outcome == .gaveUp) },
        reconnectFact("reconnect.same_token", .bool, "after an expired token, an attempt carried a token with the same claims (absent: no expired token)") { episode in
            episode.sameToken.map { .bool($0) }
        },
        reconnectFact("reconnect.repeats", .int, "attempts that met the same close code or refusal as the one that started the episode") { .int(Int64($0.repeats)) },
        reconnectFact("reconnect.retry_after", .number, "the longest wait, in seconds, a refusal's Retry-After asked of the client in the episode (absent: none asked)") { episode in
            episode.retryAfter.map { .number($0) }
        },
        reconnectFact("reconnect.retry_after_honoured", .bool, "the client waited at least what every Retry-After asked, less 0.05 s (absent: none asked)") { episode in
            episode.retryAfterHonoured.map { .bool($0) }
        },
        reconnectFact("reconnect.back_together", .int, "clients whose first reconnect came within 1 s of this one's, this one included") { .int(Int64($0.backTogether)) },
        reconnectFact("reconnect.spread", .number, "seconds from the first to the last of those first reconnects") { .number($0.spread) },
        reconnectFact("reconnect.spread_histogram", .list, "how many of those came in each tenth of a second, from the first") { episode in
            .list(episode.spreadHistogram.map(String.init))
        },
    ]

    private static func reconnectFact(_ name: String, _ type: FactType, _ meaning: String,
                                      _ compute: @escaping @Sendable (ReconnectFacts) -> FactValue?) -> FactDefinition {
        FactDefinition(name: name, type: type, meaning: meaning) { context in context.reconnect.flatMap(compute) }
    }
}
