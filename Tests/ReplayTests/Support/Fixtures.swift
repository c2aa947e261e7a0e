import Capture
import CaptureAnalysis
import Diagnosis
import Foundation
import WebSocketWire
import WireTestSupport

func fixturePath(_ name: String) -> String {
    repositoryRoot.appendingPathComponent("Fixtures/captures/\(name)").path
}

/// Every recorded capture shipped in Fixtures/captures.
let allFixtures: [String] = {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: repositoryRoot.appendingPathComponent("Fixtures/captures").path)) ?? []
    return names.filter { $0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng") }.sorted()
}()

/// Captures recorded whole, from the SYN on (the derived mid-stream and lost-segment cuts excluded).
let completeFixtures: [String] = allFixtures.filter { !$0.contains("mid-stream") && !$0.contains("lost-") }

/// Captures that contain their connections' SYN (tshark needs it to find the WebSocket port).
let fixturesWithHandshake: [String] = allFixtures.filter { !$0.contains("mid-stream") }

struct ReplayResult {
    var connections: [FinishedConnection]
    var statistics: CaptureFileFeeder.Statistics
    var otherConnections: Int
    var error: CaptureError?

    var only: ConnectionFacts {
        precondition(connections.count == 1, "expected one connection, got \(connections.count)")
        return connections[0].facts
    }
}

/// Replays a capture through the same path as `wsdoctor replay`.
func replay(_ path: String, webSocketPorts: Set<UInt16> = [], timeline: Bool = true, rules: RuleSet = .defaults()) -> ReplayResult {
    var connections: [FinishedConnection] = []
    var configuration = AnalyzerConfiguration()
    configuration.recordTimeline = timeline
    let session = ReplaySession(configuration: configuration, rules: rules, webSocketPorts: webSocketPorts) { connections.append($0) }
    let (statistics, failure) = session.replay(file: path)
    return ReplayResult(connections: connections, statistics: statistics, otherConnections: session.otherConnections, error: failure)
}

func replayFixture(_ name: String) -> ReplayResult { replay(fixturePath(name)) }

struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs `wsdoctor` with `arguments` (and `environment` added to this process's), bounded to 60 s;
/// output goes through temporary files.
func runWSDoctor(_ arguments: [String], environment: [String: String] = [:]) throws -> CommandResult {
    try runProcess(wsdoctorExecutable(), arguments, environment: environment, timeout: 60)
}

/// Runs `executable`, bounded to `timeout` seconds (then terminated); output goes through
/// temporary files.
func runProcess(_ executable: URL, _ arguments: [String], environment: [String: String] = [:], timeout: Double) throws -> CommandResult {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wsdoctor-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let outURL = directory.appendingPathComponent("stdout"), errURL = directory.appendingPathComponent("stderr")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    process.standardOutput = try FileHandle(forWritingTo: outURL)
    process.standardError = try FileHandle(forWritingTo: errURL)
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { usleep(10_000) }
    if process.isRunning { process.terminate() }
    process.waitUntilExit()
    return CommandResult(status: process.terminationStatus,
                         stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                         stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
}
