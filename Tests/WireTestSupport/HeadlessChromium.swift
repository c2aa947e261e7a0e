import Foundation

/// Debian's `chromium`, headless, with every network path closed: a proxy that points at a
/// closed port and a resolver that finds no name. Its net log shows what was requested.
public struct HeadlessChromium {
    public struct Run {
        public var dom: String
        /// Every URL the browser asked its network stack for, the browser's own update and
        /// account checks included.
        public var requestedURLs: Set<String>
        public var status: Int32
    }

    public static var executable: String { "/usr/bin/chromium" }

    /// Starts chromium on `url`; `arguments` adds `--dump-dom` or `--screenshot=FILE`.
    /// Call `finish` on the result; runs are independent, so several may run at once.
    public static func start(_ url: String, _ arguments: [String]) throws -> (Process, URL, URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wsdoctor-chromium-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let out = directory.appendingPathComponent("stdout")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-default-apps", "--hide-scrollbars",
            "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
            "--user-data-dir=\(directory.appendingPathComponent("profile").path)",
            "--log-net-log=\(directory.appendingPathComponent("net.json").path)", "--window-size=1280,900",
        ] + arguments + [url]
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return (process, directory, out)
    }

    /// Waits (at most 60 s) for a run started with `start`, and reads what it left.
    public static func finish(_ started: (Process, URL, URL)) throws -> Run {
        let (process, directory, out) = started
        defer { try? FileManager.default.removeItem(at: directory) }
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        var urls: Set<String> = []
        if let data = FileManager.default.contents(atPath: directory.appendingPathComponent("net.json").path),
           let log = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
           let events = log["events"] as? [[String: Any]] {
            for event in events {
                if let url = (event["params"] as? [String: Any])?["url"] as? String { urls.insert(url) }
            }
        }
        return Run(dom: (try? String(contentsOf: out, encoding: .utf8)) ?? "", requestedURLs: urls, status: process.terminationStatus)
    }

    public static func dumpDOM(_ url: String) throws -> Run {
        try finish(start(url, ["--dump-dom", "--virtual-time-budget=3000"]))
    }
}
