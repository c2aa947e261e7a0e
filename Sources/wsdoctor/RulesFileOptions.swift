import ArgumentParser
import Diagnosis

/// `--rules FILE`, declared once for every command that reads rules (replay, sniff, proxy,
/// rules list, explain).
struct RulesFileOptions: ParsableArguments {
    @Option(name: .customLong("rules"), help: "A rules file layered over the defaults (a rule with the same id replaces the default one). Repeatable.")
    var ruleFiles: [String] = []

    /// The rules in effect; a file with an error ends the command with its one-line message.
    func rules() throws -> RuleSet {
        try loadRules(ruleFiles)
    }
}
