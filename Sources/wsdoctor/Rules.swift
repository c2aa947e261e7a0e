import ArgumentParser
import Diagnosis

struct Rules: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "Check, list and document diagnosis rules.",
        subcommands: [Check.self, List.self, Facts.self]
    )

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate rules files without running anything else.",
            discussion: "Each error names the file, line and column and says how to fix it. Exit code 1 when any file has an error."
        )

        @Argument(help: "Rules files (YAML).")
        var files: [String]

        func run() throws {
            var failed = false
            for file in files {
                do {
                    let rules = try RuleSet.load(file: file)
                    print("\(file): \(rules.count) rule\(rules.count == 1 ? "" : "s"), OK")
                } catch {
                    printError("\(error)")
                    failed = true
                }
            }
            if failed { throw ExitCode(1) }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the rules in effect, in evaluation order, and where each came from.")

        @OptionGroup var ruleFileOptions: RulesFileOptions

        func run() throws {
            let set = try ruleFileOptions.rules()
            print("priority  id".padding(toLength: 52) + "category".padding(toLength: 20) + "source")
            for rule in set.rules {
                print(String(rule.priority).padding(toLength: 10) + rule.id.padding(toLength: 42) + rule.category.padding(toLength: 20) + rule.origin.description)
            }
        }
    }

    struct Facts: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every fact a rule can name, with its type and meaning.")

        @Flag(help: "Print a Markdown table (as in Rules/README.md).")
        var markdown = false

        func run() {
            if markdown {
                print("| fact | type | meaning |")
                print("| --- | --- | --- |")
                for fact in FactCatalog.all {
                    print("| `\(fact.name)` | \(fact.type.rawValue) | \(fact.meaning) |")
                }
                return
            }
            for fact in FactCatalog.all {
                print(fact.name.padding(toLength: 34) + fact.type.rawValue.padding(toLength: 8) + fact.meaning)
            }
        }
    }
}
