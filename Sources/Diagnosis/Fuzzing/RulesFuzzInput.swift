/// Reads one fuzzer input as a rules file and, when it parses, diagnoses with it.
///
/// Shared by the `wsdoctor-fuzz` target and the regression tests. The input is YAML text
/// (bytes that are not UTF-8 are replaced, as a file read would refuse them anyway). A rules
/// file that parses is layered over the defaults and run over two connections, a blank one
/// and one that closed with a policy code, so its conditions and summary templates run too.
package enum RulesFuzzInput {
    /// What the input produced: the rules file's error, or the diagnoses it gave.
    package enum Outcome {
        case refused(RulesError)
        case diagnosed([ConnectionDiagnosis])
    }

    package static func run(_ input: UnsafeRawBufferPointer) -> Outcome {
        let text = String(decoding: input, as: UTF8.self)
        let rules: [Rule]
        do {
            rules = try RuleSet.parse(yaml: text, file: "fuzz.yaml")
        } catch {
            // Errors are shown to the user: build their text too.
            _ = error.description
            return .refused(error)
        }
        var set = RuleSet.defaults()
        set.layer(rules)
        return .diagnosed(connections.map { set.diagnose(FactContext(facts: $0)) })
    }

    package static func run(_ input: [UInt8]) -> Outcome {
        input.withUnsafeBytes { run($0) }
    }

    private static let connections: [ConnectionFacts] = {
        var closed = FuzzInput.facts
        closed.carriesWebSocket = true
        let closeAt = closed.opened.adding(seconds: 5)
        closed.serverClose = CloseFacts(code: 1008, reason: "token expired", at: closeAt, frameIndex: 3, offset: 120)
        closed.clientClose = CloseFacts(code: 1008, reason: "", at: closeAt.adding(seconds: 0.002), frameIndex: 4, offset: 96)
        closed.fromClient.frames = 5
        closed.fromServer.frames = 4
        closed.closed = closeAt.adding(seconds: 0.01)
        return [FuzzInput.facts, closed]
    }()
}
