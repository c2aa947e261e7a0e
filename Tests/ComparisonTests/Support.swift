import CaptureAnalysis
import Comparison
import Diagnosis
import Foundation
import WireTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A pair of captures in Fixtures/captures/compare/.
func comparisonFixture(_ scenario: String) -> (nearClient: String, nearServer: String) {
    let folder = repositoryRoot.appendingPathComponent("Fixtures/captures/compare")
    return (folder.appendingPathComponent("\(scenario)-near-client.pcap").path,
            folder.appendingPathComponent("\(scenario)-near-server.pcap").path)
}

/// Both captures read and compared in process, as `wsdoctor compare` does.
func compare(nearClient: String, nearServer: String, maxHeld: Int = ComparisonStream.defaultMaxHeld) throws -> CaptureComparison {
    try CaptureComparison.collect(nearClient: nearClient, nearServer: nearServer, options: ComparisonStream.Options(maxHeld: maxHeld))
}

let canCapture = geteuid() == 0

/// Runs a program to its end, bounded; returns its status and what it wrote.
func run(_ executable: String, _ arguments: [String], timeout: Double = 30) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.currentDirectoryURL = repositoryRoot
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("compare-out-\(UUID().uuidString)")
    let err = FileManager.default.temporaryDirectory.appendingPathComponent("compare-err-\(UUID().uuidString)")
    _ = FileManager.default.createFile(atPath: out.path, contents: nil)
    _ = FileManager.default.createFile(atPath: err.path, contents: nil)
    defer {
        try? FileManager.default.removeItem(at: out)
        try? FileManager.default.removeItem(at: err)
    }
    process.standardOutput = try FileHandle(forWritingTo: out)
    process.standardError = try FileHandle(forWritingTo: err)
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { usleep(20_000) }
    if process.isRunning {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        throw ComparisonTestError("\(executable) \(arguments.joined(separator: " ")) ran past \(timeout) s")
    }
    process.waitUntilExit()
    return (process.terminationStatus, try String(contentsOf: out, encoding: .utf8), try String(contentsOf: err, encoding: .utf8))
}

/// The built `wsdoctor` executable, next to the test bundle.
var wsdoctorPath: String {
    let testBinary = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
    return testBinary.deletingLastPathComponent().appendingPathComponent("wsdoctor").path
}

struct ComparisonTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A fresh temporary folder, removed by the caller.
func temporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("wsdoctor-compare-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
