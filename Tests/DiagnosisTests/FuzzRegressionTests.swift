import Diagnosis
import Foundation
import Testing
import WebSocketWire

/// Replays every fuzz target's seeds and saved crashers as the fuzzer ran them.
///
/// A file in `Fuzz/TARGET/regressions/` once crashed, hung or exhausted memory; each must now
/// finish quickly. Where the finding has a right answer, `expectations` checks it too. The
/// analyzer and rules targets run here; the capture and report targets need Capture and
/// Reporting, so the replayer that a plain build makes of `wsdoctor-fuzz` runs them.
@Suite struct FuzzRegressionTests {
    static let fuzzFolder: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
                return url.appendingPathComponent("Fuzz")
            }
        }
        fatalError("Package.swift not found above \(#filePath)")
    }()

    static func files(in folder: String) -> [String] {
        let path = fuzzFolder.appendingPathComponent(folder).path
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { "\(folder)/\($0)" }
    }

    static func bytes(_ file: String) throws -> [UInt8] {
        try [UInt8](Data(contentsOf: fuzzFolder.appendingPathComponent(file)))
    }

    /// Seconds one input may take in a debug build; the fuzzer's own limit is 10.
    static let timeLimit: Duration = .seconds(5)

    @Test(arguments: files(in: "analyzer/regressions") + files(in: "analyzer/corpus"))
    func inputFinishesQuickly(_ file: String) throws {
        let input = try Self.bytes(file)
        let clock = ContinuousClock()
        var analyzer: ConnectionAnalyzer?
        let elapsed = clock.measure { analyzer = FuzzInput.run(input) }
        #expect(elapsed < Self.timeLimit, "\(file) took \(elapsed)")
        #expect(analyzer?.isFinished == true)
        if let check = Self.expectations[(file as NSString).lastPathComponent], let facts = analyzer?.facts {
            check(facts)
        }
    }

    @Test(arguments: files(in: "rules/regressions") + files(in: "rules/corpus"))
    func rulesFileFinishesQuickly(_ file: String) throws {
        let input = try Self.bytes(file)
        let clock = ContinuousClock()
        let elapsed = clock.measure { _ = RulesFuzzInput.run(input) }
        #expect(elapsed < Self.timeLimit, "\(file) took \(elapsed)")
    }

    @Test(arguments: ["capture", "report"])
    func replayerRunsEveryInputOfTarget(_ target: String) throws {
        let folders = ["\(target)/corpus", "\(target)/regressions"].filter {
            FileManager.default.fileExists(atPath: Self.fuzzFolder.appendingPathComponent($0).path)
        }
        let inputs = folders.flatMap { Self.files(in: $0) }
        let output = try Self.runReplayer([target] + folders.map { Self.fuzzFolder.appendingPathComponent($0).path })
        #expect(output.status == 0, "\(output.text)")
        let lines = output.text.split(separator: "\n")
        #expect(lines.count == inputs.count, "\(output.text)")
        for line in lines {
            // "PATH: N bytes, M ms: summary"
            let milliseconds = line.split(separator: ",").dropFirst().first.flatMap { Int($0.split(separator: " ").first ?? "") }
            #expect(milliseconds.map { $0 < 5000 } == true, "\(line)")
        }
    }

    @Test func everyRegressionIsKept() {
        #expect(!Self.files(in: "analyzer/regressions").isEmpty)
        #expect(!Self.files(in: "capture/regressions").isEmpty)
        #expect(Self.files(in: "analyzer/corpus").count >= 10)
        for target in ["capture", "rules", "report"] {
            #expect(Self.files(in: "\(target)/corpus").count >= 3, "\(target)")
        }
    }

    /// Runs the plain build's `wsdoctor-fuzz` (next to the test bundle), bounded to 120 s.
    static func runReplayer(_ arguments: [String]) throws -> (status: Int32, text: String) {
        let testBinary = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        let outURL = FileManager.default.temporaryDirectory.appendingPathComponent("wsdoctor-fuzz-\(UUID().uuidString).out")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outURL) }
        let process = Process()
        process.executableURL = testBinary.deletingLastPathComponent().appendingPathComponent("wsdoctor-fuzz")
        process.arguments = arguments
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return (process.terminationStatus, (try? String(contentsOf: outURL, encoding: .utf8)) ?? "")
    }

    /// What each finding must produce now that it is fixed.
    static let expectations: [String: @Sendable (ConnectionFacts) -> Void] = [
        // A 100 Continue was returned again and again without consuming a byte.
        "interim-response-repeated-forever": { facts in
            #expect(facts.undecodable.isEmpty)
            #expect(facts.violations.isEmpty)
        },
        // 24,000 bytes that never look like a frame, one byte per segment, joined mid-stream:
        // every segment rescanned the whole search buffer (17 s in a debug build).
        "resync-rescanned-every-segment": { facts in
            #expect(facts.undecodable.map(\.side) == [.server])
            #expect(facts.fromServer.frames == 0)
        },
    ]
}
