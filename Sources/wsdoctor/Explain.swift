import ArgumentParser
import Diagnosis
import WebSocketWire

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Explain WebSocket close codes: what each means, when it is seen, how to fix it.",
        discussion: "Without a code, lists every code with its name. With a code, explains it and lists the rules that diagnose it."
    )

    @Argument(help: "A close code, e.g. 1008.")
    var code: UInt16?

    @OptionGroup var ruleFileOptions: RulesFileOptions

    func run() throws {
        guard let code else {
            for entry in CloseCodeGuide.entries {
                let codes = entry.codes.count == 1 ? String(entry.codes.lowerBound) : "\(entry.codes.lowerBound)–\(entry.codes.upperBound)"
                print(codes.padding(toLength: 10) + entry.name)
            }
            return
        }
        guard let entry = CloseCodeGuide.entry(for: code) else {
            print("\(code) \(CloseCode.name(of: code)): not a code any endpoint may send (allowed: 1000–1003, 1007–1014, 3000–4999).")
            return
        }
        let rules = try ruleFileOptions.rules()
        print("\(code) \(CloseCode.name(of: code))" + (CloseCode.isAllowedOnWire(code) ? "" : "  (never sent in a close frame)"))
        print("")
        print("meaning    " + entry.meaning)
        print("seen when  " + entry.seenWhen)
        print("fix        " + entry.fix)
        let matching = rules.rules.filter { $0.concerns(closeCode: code) }
        if !matching.isEmpty {
            print("")
            print("rules that diagnose it:")
            for rule in matching {
                print("  \(rule.id.padding(toLength: 40)) \(rule.category.padding(toLength: 18)) \(rule.origin)")
            }
        }
    }
}

extension String {
    func padding(toLength width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
