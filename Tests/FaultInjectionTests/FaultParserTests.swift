import Testing
@testable import FaultInjection

@Suite struct FaultParserTests {
    @Test func readsEveryActionWithItsParameters() throws {
        let text = """
            faults:
              - id: overload
                action: close
                code: 1013
                reason: try again later
                toward: both
                match: {path: /chat}
                after_messages: 3
                count: 2
              - {id: busy, action: refuse, status: 503, retry_after: 5, match: {path: "/api/*"}}
              - {id: mute, action: drop-pongs, toward: client, after_seconds: 1.5}
              - {id: hold, action: stall, toward: server, seconds: 2}
              - {id: slow, action: latency, toward: client, ms: 200}
              - {id: bad-text, action: corrupt-utf8, toward: client}
              - {id: rsv, action: set-rsv1, toward: server}
              - {id: plain, action: strip-extensions}
              - {id: rst, action: reset, after_messages: 1}
              - {id: quiet, action: drop-pings, toward: server}
            """
        let faults = try FaultParser.parseFile(text, file: "f.yaml")
        #expect(faults.count == 10)
        #expect(faults[0] == Fault(id: "overload", action: .close(code: 1013, reason: "try again later", toward: .both),
                                   match: FaultMatch(path: .exact("/chat")), trigger: .afterMessages(3), count: 2))
        #expect(faults[1].action == .refuse(status: 503, retryAfter: 5))
        #expect(faults[1].match.matches(target: "/api/v1?x=1"))
        #expect(!faults[1].match.matches(target: "/other"))
        #expect(faults[2].trigger == .afterSeconds(1.5))
        #expect(faults[3].action == .stall(toward: .server, seconds: 2))
        #expect(faults[4].action == .latency(toward: .client, milliseconds: 200))
        #expect(faults[7].action == .stripExtensions && faults[7].trigger == .upgrade && faults[7].count == nil)
    }

    @Test(arguments: [
        ("- {id: a, action: explode}", 2, "unknown action `explode`"),
        ("- {id: a, action: close}", 2, "`close` needs `code`"),
        ("- {id: a, action: close, code: 1006}", 2, "close code 1006 may not be sent"),
        ("- {id: a, action: close, code: 1005}", 2, "close code 1005 may not be sent"),
        ("- {id: a, action: latency, toward: client}", 2, "`latency` needs `ms`"),
        ("- {id: a, action: reset, match: {path: chat}}", 2, "`match.path` must start with `/`"),
        ("- {id: a, action: reset, match: {host: x}}", 2, "`match` knows only `path`"),
        ("- {id: a, action: reset, match: /chat}", 2, "`match` is a mapping"),
        ("- {id: a, action: refuse, status: 401, retry_after: 3}", 2, "`retry_after` goes with status 429 or 503"),
        ("- {id: a, action: refuse, status: 503, after_messages: 2}", 2, "acts on the upgrade itself"),
        ("- {id: a, action: stall, toward: up}", 2, "`toward` must be client, server or both"),
        ("- {id: a, action: reset, code: 1000}", 2, "`code` is not a parameter of `reset`"),
        ("- {id: a, action: reset, count: 0}", 2, "`count` must be from 1"),
        ("- {action: reset}", 2, "a fault needs `id`"),
        ("- {id: \"\", action: reset}", 2, "`id` `` must be 1 to 64"),
        ("- {id: a, action: reset}\n  - {id: a, action: reset}", 3, "duplicate fault id `a`"),
    ])
    func badInputNamesTheLine(entry: String, line: Int, message: String) {
        do {
            _ = try FaultParser.parseFile("faults:\n  " + entry + "\n", file: "f.yaml")
            Issue.record("accepted \(entry)")
        } catch {
            #expect(error.line == line)
            #expect(error.description.hasPrefix("f.yaml:\(line): "))
            #expect(error.message.contains(message), "\(error.message)")
        }
    }

    @Test func aFileWithoutAFaultsListIsRefused() {
        #expect(throws: FaultsError.self) { try FaultParser.parseFile("rules: []\n", file: "f.yaml") }
    }

    @Test func theControlAPIReadsOneFaultAsJSON() throws {
        let faults = try FaultParser.parseRequest(#"{"id": "x", "action": "close", "code": 1012, "toward": "client", "match": {"path": "/"}}"#)
        #expect(faults == [Fault(id: "x", action: .close(code: 1012, reason: "", toward: .client), match: FaultMatch(path: .exact("/")))])
    }
}
