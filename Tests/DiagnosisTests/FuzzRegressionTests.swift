import Diagnosis
import Foundation
import Testing
import WebSocketWire

/// Replays the fuzzer's seeds and every saved crasher through the fuzz target's interpreter.
///
/// A file in `Fuzz/regressions/` once crashed, hung or exhausted memory; each must now finish
/// quickly. Where the finding has a right answer, `expectations` checks it too.
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

    @Test(arguments: files(in: "regressions") + files(in: "corpus"))
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

    @Test func everyRegressionIsKept() {
        #expect(!Self.files(in: "regressions").isEmpty)
        #expect(Self.files(in: "corpus").count >= 10)
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
