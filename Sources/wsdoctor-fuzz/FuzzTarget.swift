import Diagnosis
import Foundation

/// What one fuzzer input is fed to; `Fuzz/run.sh` fuzzes each in turn.
enum FuzzTarget: String, CaseIterable, Sendable {
    /// One connection's traffic through the analyzer and the default rules (`FuzzInput`).
    case analyzer
    /// A pcap or pcapng file through libpcap, TCP reassembly, analyzers and both reporters.
    case capture
    /// A rules file through the parser and, when it parses, a diagnosis.
    case rules
    /// One connection's traffic (`FuzzInput`, clock steps allowed) into the text and JSON reports.
    case report

    /// The variable `Fuzz/run.sh` names the target in; libFuzzer owns the command line.
    static let variable = "WSDOCTOR_FUZZ_TARGET"

    /// The target named by `WSDOCTOR_FUZZ_TARGET`, the analyzer when it is unset.
    static let selected: FuzzTarget = {
        guard let name = getenv(variable).map({ String(cString: $0) }), !name.isEmpty else { return .analyzer }
        guard let target = FuzzTarget(rawValue: name) else {
            let names = allCases.map(\.rawValue).joined(separator: ", ")
            FileHandle.standardError.write(Data("wsdoctor-fuzz: \(variable)=\(name) is not a target (\(names))\n".utf8))
            exit(2)
        }
        return target
    }()

    /// Runs one input and says in one line what it produced.
    func run(_ input: UnsafeRawBufferPointer) -> String {
        switch self {
        case .analyzer: return Self.describe(FuzzInput.run(input).facts)
        case .capture: return CaptureFuzzTarget.run(input)
        case .rules:
            switch RulesFuzzInput.run(input) {
            case .refused(let error): return "refused: \(error)"
            case .diagnosed(let diagnoses): return "diagnosed " + diagnoses.map(\.id).joined(separator: ", ")
            }
        case .report: return ReportFuzzTarget.run(input)
        }
    }

    private static func describe(_ facts: ConnectionFacts) -> String {
        let kinds = Set(facts.violations.map(\.kind.rawValue)).sorted().joined(separator: ",")
        return "frames \(facts.fromClient.frames)/\(facts.fromServer.frames), violations \(facts.violations.count) [\(kinds)],"
            + " stopped \(facts.undecodable.count)"
    }
}
