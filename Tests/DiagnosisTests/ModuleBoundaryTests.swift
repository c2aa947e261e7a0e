import Foundation
import Testing
import WireTestSupport

/// The one-way arrows of the module table (DESIGN.md, README's Layout): reading a capture
/// knows no rules, sniff no proxy, and the options the commands share are declared once.
@Suite struct ModuleBoundaryTests {
    private func text(_ path: String) throws -> String {
        try String(contentsOf: repositoryRoot.appendingPathComponent(path), encoding: .utf8)
    }

    /// The `dependencies: [...]` of the target named `name` in Package.swift.
    private func dependencies(of name: String) throws -> String {
        let manifest = try text("Package.swift")
        let start = try #require(manifest.range(of: "name: \"\(name)\""), "no target \(name)")
        let rest = manifest[start.upperBound...]
        let open = try #require(rest.range(of: "dependencies: ["))
        var depth = 1
        var index = open.upperBound
        while depth > 0, index < rest.endIndex {
            if rest[index] == "[" { depth += 1 } else if rest[index] == "]" { depth -= 1 }
            index = rest.index(after: index)
        }
        return String(rest[open.upperBound..<index])
    }

    /// The modules each Swift file under `folder` imports.
    private func imports(under folder: String) throws -> [(file: String, module: String)] {
        let root = repositoryRoot.appendingPathComponent(folder)
        let files = try #require(FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil))
        var found: [(file: String, module: String)] = []
        for case let url as URL in files where url.pathExtension == "swift" {
            for line in try String(contentsOf: url, encoding: .utf8).split(separator: "\n") where line.hasPrefix("import ") {
                found.append((url.lastPathComponent, String(line.dropFirst("import ".count))))
            }
        }
        return found
    }

    @Test func readingACaptureImportsNeitherTheRulesNorYams() throws {
        for target in ["WebSocketWire", "Capture", "PcapRecording"] {
            let dependencies = try dependencies(of: target)
            #expect(!dependencies.contains("Diagnosis") && !dependencies.contains("Yams"), "\(target): \(dependencies)")
        }
        for folder in ["Sources/WebSocketWire", "Sources/Capture", "Sources/PcapRecording"] {
            let wrong = try imports(under: folder).filter { ["Diagnosis", "Yams", "LiveProxy"].contains($0.module) }
            #expect(wrong.isEmpty, "\(folder): \(wrong)")
        }
        // Timestamps, endpoints and the clock sit below the diagnosis, for every layer.
        for file in ["Timestamp", "Endpoint"] {
            #expect(FileManager.default.fileExists(atPath: repositoryRoot.appendingPathComponent("Sources/WebSocketWire/Model/\(file).swift").path))
        }
    }

    @Test func metricsAreAReporterAndSniffLinksNoProxyOrTLS() throws {
        let metrics = try dependencies(of: "MetricsReporting")
        #expect(!metrics.contains("LiveProxy") && !metrics.contains("NIOSSL"), "\(metrics)")
        let sniff = try imports(under: "Sources/wsdoctor").filter { $0.file == "Sniff.swift" }.map(\.module)
        #expect(sniff.contains("MetricsReporting") && !sniff.contains("LiveProxy") && !sniff.contains("NIOSSL"), "\(sniff)")
        // Writing a pcap is its own piece, not part of reading.
        let capture = try imports(under: "Sources/Capture").map(\.module)
        #expect(!capture.contains("PcapRecording"))
        #expect(!(try dependencies(of: "Capture")).contains("PcapRecording"))
    }

    @Test func sharedOptionsAreDeclaredOnceAndNoPlatformIsClaimed() throws {
        // replay, sniff, proxy and compare take the diagnosis options from one group, and declare none of them.
        for command in ["Replay", "Sniff", "Proxy", "Compare"] {
            let source = try text("Sources/wsdoctor/\(command).swift")
            #expect(source.contains("@OptionGroup var diagnosis: DiagnosisOptions"), "\(command)")
            for option in ["customLong(\"rules\")", "customLong(\"redact\")", "var showSecrets", "var frames", "var maxInflatedSize"] {
                #expect(!source.contains(option), "\(command) declares \(option) itself")
            }
        }
        // --rules is declared once, for every command that reads rules.
        let declaring = try FileManager.default.contentsOfDirectory(atPath: repositoryRoot.appendingPathComponent("Sources/wsdoctor").path)
            .filter { try text("Sources/wsdoctor/\($0)").contains("customLong(\"rules\")") }
        #expect(declaring == ["RulesFileOptions.swift"])
        for command in ["Rules", "Explain", "DiagnosisOptions"] {
            #expect(try text("Sources/wsdoctor/\(command).swift").contains("@OptionGroup var ruleFileOptions: RulesFileOptions"), "\(command)")
        }
        #expect(!(try text("Package.swift")).contains("platforms:"))
    }
}
