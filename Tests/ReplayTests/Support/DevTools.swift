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
        let stepsFile = FileManager.default.temporaryDirectory.appendingPathComponent("wsdoctor-devtools-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: stepsFile) }
        try JSONSerialization.data(withJSONObject: steps).write(to: stepsFile)
        let result = try runProcess(python, [script.path, stepsFile.path], timeout: 90)
        guard result.status == 0, let object = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
              let results = object["results"] as? [Any], let pageErrors = object["errors"] as? [String] else {
            throw DevToolsError(description: "devtools.py failed (\(result.status)): \(result.stderr)")
        }
        return Run(results: results, errors: pageErrors)
    }
}

struct DevToolsError: Error, CustomStringConvertible {
    var description: String
}
