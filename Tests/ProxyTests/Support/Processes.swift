import Foundation
import Testing
import WireTestSupport
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The proxy tests drive real processes: the built `wsdoctor proxy` (one per test, on a port
// the kernel picks) and one shared Python process with the peers (peers/peers.py). Output of
// both goes to temporary files that the tests poll; every wait is bounded, and every process
// is killed and reaped by the code that started it, also when a test fails.

struct ProxyTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Seconds any single wait in these tests may take before it fails.
let stepTimeout: Double = 10

/// Polls `condition` every 10 ms until it returns a value or `timeout` passes.
func poll<T>(timeout: Double = stepTimeout, _ what: @autoclosure () -> String,
             _ condition: () throws -> T?) async throws -> T {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if let value = try condition() { return value }
        if Date() >= deadline { throw ProxyTestError("timed out after \(timeout) s waiting for \(what())") }
        try await Task.sleep(for: .milliseconds(10))
    }
}

/// A temporary file a child process writes to.
final class OutputFile: Sendable {
    let url: URL
    /// Ids of the connection reports already handed to a test: the kernel reuses a client's
    /// ephemeral port once its connection is gone, so a port alone can match an older report.
    let claimedConnectionIDs = Mutex<Set<Int>>([])

    init(_ name: String) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("wsdoctor-proxytests-\(UUID().uuidString)-\(name)")
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw ProxyTestError("cannot create \(url.path)")
        }
    }

    func handle() throws -> FileHandle { try FileHandle(forWritingTo: url) }

    var text: String { (try? String(contentsOf: url, encoding: .utf8)) ?? "" }

    /// The complete lines written so far (a line still being written is left out).
    var lines: [Substring] {
        let all = text
        guard let lastNewline = all.lastIndex(of: "\n") else { return [] }
        return all[..<lastNewline].split(separator: "\n", omittingEmptySubsequences: false)
    }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// Stops a child: `signal` first, SIGKILL if it is still running after `grace` seconds; reaps it.
func stopProcess(_ process: Process, signal first: Int32 = SIGKILL, grace: Double = 3) {
    guard process.processIdentifier > 0 else { return }
    if process.isRunning {
        kill(process.processIdentifier, first)
        let deadline = Date().addingTimeInterval(grace)
        while process.isRunning && Date() < deadline { usleep(5_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            let killed = Date().addingTimeInterval(2)
            while process.isRunning && Date() < killed { usleep(5_000) }
        }
    }
    // Reaps it. (Only once it has exited: waitUntilExit must not block a test's thread.)
    if !process.isRunning { process.waitUntilExit() }
}

// MARK: - wsdoctor proxy and sniff

/// A running `wsdoctor proxy` or `wsdoctor sniff` printing JSON lines to a file.
protocol ReportingProcess: Sendable {
    var process: Process { get }
    var stdout: OutputFile { get }
    var stderr: OutputFile { get }
}

/// Starts `wsdoctor arguments` with its output in files and waits until `ready` finds what
/// it needs in the first line printed (its notice, decoded when JSON); kills it if that fails.
func launchWSDoctor<Ready>(_ arguments: [String], environment: [String: String]? = nil, json: Bool,
                           ready: @escaping (String) -> Ready?) async throws -> (Process, OutputFile, OutputFile, Ready) {
    let stdout = try OutputFile("\(arguments.first ?? "wsdoctor")-stdout"), stderr = try OutputFile("\(arguments.first ?? "wsdoctor")-stderr")
    let process = Process()
    process.executableURL = wsdoctorExecutable()
    process.arguments = arguments
    if let environment { process.environment = environment }
    process.standardOutput = try stdout.handle()
    process.standardError = try stderr.handle()
    process.standardInput = FileHandle.nullDevice
    try process.run()
    do {
        let value = try await poll("wsdoctor \(arguments.first ?? "")'s start-up notice (stderr: \(stderr.text))") { () -> Ready? in
            if !process.isRunning { throw ProxyTestError("wsdoctor \(arguments.first ?? "") exited with \(process.terminationStatus): \(stderr.text)") }
            guard let first = stdout.lines.first else { return nil }
            return ready(json ? (JSONValue.parse(first)?["message"]?.string ?? "") : String(first))
        }
        return (process, stdout, stderr, value)
    } catch {
        stopProcess(process, signal: SIGKILL)
        stdout.remove()
        stderr.remove()
        throw error
    }
}

/// Runs `wsdoctor arguments` until it exits (it must, within 10 s): its status and standard error.
func wsdoctorExit(_ arguments: [String], environment: [String: String]) throws -> (status: Int32, stderr: String) {
    let process = Process()
    process.executableURL = wsdoctorExecutable()
    process.arguments = arguments
    process.environment = environment
    let errors = Pipe()
    process.standardError = errors
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(10)
    while process.isRunning && Date() < deadline { usleep(10_000) }
    if process.isRunning { process.terminate() }
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
}

extension ReportingProcess {
    /// Every JSON object printed so far.
    var objects: [JSONValue] { stdout.lines.compactMap { JSONValue.parse($0) } }

    /// The connection objects printed so far.
    var connections: [JSONValue] { objects.filter { $0["type"]?.string == "connection" } }

    /// Waits for the report of the connection the client made from `clientPort`.
    /// With `path`, only a connection that asked for it (a unique tag tells apart a port
    /// reused after connections the test never looked at).
    func connection(clientPort: Int, path: String? = nil) async throws -> JSONValue {
        try await poll("the report of the connection from 127.0.0.1:\(clientPort); printed so far:\n\(stdout.text)") {
            let fromPort = connections.filter {
                $0["client"]?.string == "127.0.0.1:\(clientPort)" && (path == nil || $0["handshake"]?["path"]?.string == path)
            }
            return stdout.claimedConnectionIDs.withLock { claimed -> JSONValue? in
                guard let unclaimed = fromPort.first(where: { !claimed.contains($0["id"]?.int ?? -1) }) else { return nil }
                claimed.insert(unclaimed["id"]?.int ?? -1)
                return unclaimed
            }
        }
    }

    /// Waits until `count` connections were reported.
    func waitForConnections(_ count: Int) async throws -> [JSONValue] {
        try await poll("\(count) connection reports; printed so far:\n\(stdout.text)") {
            let all = connections
            return all.count >= count ? all : nil
        }
    }

    /// Sends `signal` (SIGINT or SIGTERM), waits (bounded) for the exit; the exit status and
    /// every JSON object printed.
    func stop(signal: Int32 = SIGINT) async throws -> (status: Int32, objects: [JSONValue]) {
        kill(process.processIdentifier, signal)
        _ = try await poll("wsdoctor to exit after signal \(signal)") { process.isRunning ? nil : true }
        process.waitUntilExit()
        return (process.terminationStatus, objects)
    }

    /// Kills (SIGKILL, if it still runs) and reaps the process, and removes its files. For `defer`.
    func cleanUp() {
        stopProcess(process, signal: SIGKILL)
        stdout.remove()
        stderr.remove()
    }
}

/// One `wsdoctor proxy --listen 127.0.0.1:0` process.
final class ProxyProcess: ReportingProcess {
    let process: Process
    let stdout: OutputFile
    let stderr: OutputFile
    /// The port the proxy listens on (read from its first line).
    let port: Int
    let upstreamPort: Int

    private init(process: Process, stdout: OutputFile, stderr: OutputFile, port: Int, upstreamPort: Int) {
        self.process = process
        self.stdout = stdout
        self.stderr = stderr
        self.port = port
        self.upstreamPort = upstreamPort
    }

    /// Starts the proxy in front of `127.0.0.1:upstreamPort` and waits for its listening notice;
    /// `variables` are added to the test's own environment for it alone.
    static func start(upstreamPort: Int, format: String = "json", extraArguments: [String] = [],
                      upstreamURL: String? = nil, variables: [String: String] = [:]) async throws -> ProxyProcess {
        let arguments = ["proxy", "--listen", "127.0.0.1:0", "--upstream", upstreamURL ?? "ws://127.0.0.1:\(upstreamPort)", "--format", format] + extraArguments
        let environment = variables.isEmpty ? nil : ProcessInfo.processInfo.environment.merging(variables) { $1 }
        let (process, stdout, stderr, port) = try await launchWSDoctor(arguments, environment: environment, json: format == "json", ready: listeningPort)
        return ProxyProcess(process: process, stdout: stdout, stderr: stderr, port: port, upstreamPort: upstreamPort)
    }

    /// The port in "wsdoctor proxy listening on 127.0.0.1:NNNNN, forwarding to ...".
    static func listeningPort(_ message: String) -> Int? {
        let prefix = "wsdoctor proxy listening on 127.0.0.1:"
        guard message.hasPrefix(prefix) else { return nil }
        return Int(message.dropFirst(prefix.count).prefix { $0.isNumber })
    }
}

/// Runs `body` with a proxy in front of `upstreamPort`; the proxy is killed and reaped after,
/// whatever happens.
func withProxy<T>(upstream upstreamPort: Int, format: String = "json", extraArguments: [String] = [],
                  _ body: (ProxyProcess) async throws -> T) async throws -> T {
    let proxy = try await ProxyProcess.start(upstreamPort: upstreamPort, format: format, extraArguments: extraArguments)
    defer { proxy.cleanUp() }
    return try await body(proxy)
}

// MARK: - The Python peers

/// The shared Python process running peers/peers.py: `websockets` servers, clients, raw
/// clients and raw servers, driven by one JSON request a line on its stdin.
final class PeerHost: Sendable {
    @TaskLocal static var current: PeerHost?

    /// The host the suite started (see `PeerHostTrait`).
    static var shared: PeerHost {
        get throws {
            guard let current else { throw ProxyTestError("no peer host: run the proxy tests inside @Suite(.pythonPeers)") }
            return current
        }
    }

    let process: Process
    private let input: FileHandle
    private let stdout: OutputFile
    private let stderr: OutputFile
    private let state = Locked(State())
    /// The path-routed `websockets` server (max_size 16 MiB) and the one with max_size 1024.
    let mainPort: Int
    let smallPort: Int

    private struct State {
        var nextID = 0
        var consumed = 0  // bytes of stdout already parsed
        var responses: [Int: JSONValue] = [:]
    }

    static var pythonPath: URL { repositoryRoot.appendingPathComponent(".venv/bin/python") }
    static var scriptPath: URL { repositoryRoot.appendingPathComponent("Tests/ProxyTests/peers/peers.py") }

    private init(process: Process, input: FileHandle, stdout: OutputFile, stderr: OutputFile, mainPort: Int, smallPort: Int) {
        self.process = process
        self.input = input
        self.stdout = stdout
        self.stderr = stderr
        self.mainPort = mainPort
        self.smallPort = smallPort
    }

    static func start() async throws -> PeerHost {
        guard FileManager.default.isExecutableFile(atPath: pythonPath.path) else {
            throw ProxyTestError("\(pythonPath.path) is missing: run `bash scripts/install-deps.sh` first")
        }
        let stdout = try OutputFile("peers-stdout"), stderr = try OutputFile("peers-stderr")
        let stdin = Pipe()
        let process = Process()
        process.executableURL = pythonPath
        process.arguments = ["-u", scriptPath.path]
        process.standardInput = stdin
        process.standardOutput = try stdout.handle()
        process.standardError = try stderr.handle()
        try process.run()
        do {
            let ready = try await poll("the Python peers to start (stderr: \(stderr.text))") { () -> JSONValue? in
                if !process.isRunning { throw ProxyTestError("peers.py exited with \(process.terminationStatus): \(stderr.text)") }
                return stdout.lines.first.flatMap { JSONValue.parse($0) }
            }
            guard let main = ready["main"]?.int, let small = ready["small"]?.int else {
                throw ProxyTestError("unexpected first line from peers.py: \(ready)")
            }
            return PeerHost(process: process, input: stdin.fileHandleForWriting, stdout: stdout, stderr: stderr,
                            mainPort: main, smallPort: small)
        } catch {
            try? stdin.fileHandleForWriting.close()
            stopProcess(process)
            stdout.remove()
            stderr.remove()
            throw error
        }
    }

    /// Runs one operation of peers.py (`op_NAME`) and returns its result; throws with the
    /// peer's error when it failed. Bounded by `timeout` seconds.
    @discardableResult
    func run(_ op: String, _ arguments: [String: any Sendable] = [:], timeout: Double = 20) async throws -> JSONValue {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        var request: [String: Any] = arguments
        request["id"] = id
        request["op"] = op
        var line = try JSONSerialization.data(withJSONObject: request, options: [.sortedKeys])
        line.append(UInt8(ascii: "\n"))
        try state.withLock { _ in try input.write(contentsOf: line) }
        let shown = String("\(op) \(arguments)".prefix(300))
        let response = try await poll(timeout: timeout, "peers.py to answer \(shown) (stderr: \(stderr.text))") { () -> JSONValue? in
            if !process.isRunning { throw ProxyTestError("peers.py exited with \(process.terminationStatus): \(stderr.text)") }
            return takeResponse(id)
        }
        guard response["ok"]?.bool == true else {
            throw ProxyTestError("peer operation \(shown) failed: \(response["error"]?.string ?? "\(response)")")
        }
        return response
    }

    private func takeResponse(_ id: Int) -> JSONValue? {
        let data = (try? Data(contentsOf: stdout.url)) ?? Data()
        return state.withLock { state -> JSONValue? in
            if data.count > state.consumed, let lastNewline = data.lastIndex(of: UInt8(ascii: "\n")), lastNewline >= state.consumed {
                let fresh = data[state.consumed...lastNewline]
                state.consumed = lastNewline + 1
                for line in fresh.split(separator: UInt8(ascii: "\n")) {
                    if let value = try? JSONDecoder().decode(JSONValue.self, from: Data(line)), let responseID = value["id"]?.int {
                        state.responses[responseID] = value
                    }
                }
            }
            return state.responses.removeValue(forKey: id)
        }
    }

    /// Ends the process: closing its stdin makes it exit; SIGKILL if it does not. Reaps it.
    func shutdown() {
        try? input.close()
        stopProcess(process, signal: SIGTERM, grace: 3)
        stdout.remove()
        stderr.remove()
    }
}

/// Starts the Python peers once for the suite it is attached to, and ends them after it.
struct PythonPeersTrait: SuiteTrait, TestScoping {
    var isRecursive: Bool { false }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let host = try await PeerHost.start()
        defer { host.shutdown() }
        try await PeerHost.$current.withValue(host) {
            try await function()
        }
    }
}

extension Trait where Self == PythonPeersTrait {
    /// The shared Python peers process (`PeerHost.shared` inside the suite).
    static var pythonPeers: Self { PythonPeersTrait() }
}

/// A small lock around a value (Foundation's NSLock, usable from Swift 6 strict concurrency).
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

/// A fresh tag for the peers' server-side log.
func freshTag() -> String { UUID().uuidString.lowercased() }
