/// Facts of a compared pair (`wsdoctor compare`): absent outside a comparison.
extension FactCatalog {
    static let pair: [FactDefinition] = [
        pairFact("pair.compared", .bool, "the connection was captured on both sides of an intermediary and the two legs compared") { _ in .bool(true) },
        pairFact("pair.changes", .int, "differences found between the legs, of every kind") { .int(Int64($0.changes)) },
        pairFact("pair.change_kinds", .list, "the kinds of those differences (see the compare section of README.md)") { .list($0.changeKinds) },
        pairFact("pair.ended_by_intermediary", .bool, "a close frame, FIN or RST on a leg that no endpoint sent: the intermediary ended the connection") {
            .bool($0.endedByIntermediary)
        },
        pairFact("pair.intermediary_idle_before", .number, "seconds without a byte on the leg before the intermediary ended it") { pair in
            pair.intermediaryIdleBefore.map { .number($0) }
        },
        pairFact("pair.idle_timeout_default", .string, "the common intermediary defaults pair.intermediary_idle_before matches within 2 s (nginx, AWS ALB, GCP, Cloudflare…)") { pair in
            pair.idleTimeoutMatch.map { .string($0) }
        },
        pairFact("pair.extensions_offered_near_client", .string, "Sec-WebSocket-Extensions of the request as the client sent it") { pair in
            pair.extensionsOfferedNearClient.map { .string($0) }
        },
        pairFact("pair.extensions_offered_near_server", .string, "Sec-WebSocket-Extensions of the request as it reached the server") { pair in
            pair.extensionsOfferedNearServer.map { .string($0) }
        },
        pairFact("pair.extensions_accepted_near_client", .string, "Sec-WebSocket-Extensions of the answer as it reached the client") { pair in
            pair.extensionsAcceptedNearClient.map { .string($0) }
        },
        pairFact("pair.extensions_accepted_near_server", .string, "Sec-WebSocket-Extensions of the answer as the server sent it") { pair in
            pair.extensionsAcceptedNearServer.map { .string($0) }
        },
        pairFact("pair.close_rewritten", .bool, "a close frame an endpoint sent arrived with another code or reason") { .bool($0.closeRewritten) },
        pairFact("pair.close_lost", .bool, "a close frame an endpoint sent never reached the other endpoint") { .bool($0.closeLost) },
        pairFact("pair.close_code_near_client", .int, "code of the first close frame on the client's leg") { pair in pair.closeCodeNearClient.map { .int(Int64($0)) } },
        pairFact("pair.close_code_near_server", .int, "code of the first close frame on the server's leg") { pair in pair.closeCodeNearServer.map { .int(Int64($0)) } },
        pairFact("pair.payload_altered", .int, "messages whose payload differs between the legs (size, or text that became invalid UTF-8)") { .int(Int64($0.payloadAltered)) },
        pairFact("pair.keepalive_answered_between", .bool, "pings or pongs on one leg that the other never carried: the intermediary answered keepalives itself") {
            .bool($0.keepaliveAnsweredBetween)
        },
        pairFact("pair.ended_together", .int, "pairs the intermediary ended within 2 s of this one, this one included (many: a reload or restart of the intermediary)") {
            .int(Int64($0.endedTogether))
        },
    ]

    private static func pairFact(_ name: String, _ type: FactType, _ meaning: String,
                                 _ compute: @escaping @Sendable (PairFacts) -> FactValue?) -> FactDefinition {
        FactDefinition(name: name, type: type, meaning: meaning) { context in context.pair.flatMap(compute) }
    }
}
