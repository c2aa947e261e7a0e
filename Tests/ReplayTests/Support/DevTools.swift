import Foundation
import WireTestSupport

/// Headless Chromium driven over the DevTools protocol by browser/devtools.py: key presses,
/// wheel turns, drags, print emulation, screenshots, and the page's errors.
enum DevTools {
    struct Run {
        /// One value per step, in order.
        var results: [Any]
        /// Exceptions the page threw and errors it logged.
        var errors: [String]
    }

    static var script: URL { repositoryRoot.appendingPathComponent("Tests/ReplayTests/browser/devtools.py") }
    static var python: URL { repositoryRoot.appendingPathComponent(".venv/bin/python") }

    /// Runs `steps` (see devtools.py) in one page, bounded to 90 s.
    static func run(_ steps: [[String: Any]]) throws -> Run {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wsdoctor-devtools-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let stepsFile = directory.appendingPathComponent("steps.json"), out = directory.appendingPathComponent("out.json")
        let errors = directory.appendingPathComponent("stderr")
        try JSONSerialization.data(withJSONObject: steps).write(to: stepsFile)
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        let process = Process()
        process.executableURL = python
        process.arguments = [script.path, stepsFile.path]
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: errors)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(90)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let object = try JSONSerialization.jsonObject(with: Data(contentsOf: out)) as? [String: Any],
              let results = object["results"] as? [Any], let pageErrors = object["errors"] as? [String] else {
            throw DevToolsError(description: "devtools.py failed (\(process.terminationStatus)): "
                                + ((try? String(contentsOf: errors, encoding: .utf8)) ?? ""))
        }
        return Run(results: results, errors: pageErrors)
    }
}

struct DevToolsError: Error, CustomStringConvertible {
    var description: String
}
