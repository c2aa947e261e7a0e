import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A `websockets` echo server alone in its own Python process (`peers.py --echo-server`), so
/// that a test can kill it like a crashing server. It prints its port (the kernel's pick) and
/// exits by itself when its stdin ends, so it cannot outlive the test process.
final class EchoServerProcess: Sendable {
    let process: Process
    let port: Int
    private let input: FileHandle
    private let stdout: OutputFile
    private let stderr: OutputFile

    private init(process: Process, port: Int, input: FileHandle, stdout: OutputFile, stderr: OutputFile) {
        self.process = process
        self.port = port
        self.input = input
        self.stdout = stdout
        self.stderr = stderr
    }

    static func start() async throws -> EchoServerProcess {
        let stdout = try OutputFile("echo-server-stdout"), stderr = try OutputFile("echo-server-stderr")
        let stdin = Pipe()
        let process = Process()
        process.executableURL = PeerHost.pythonPath
        process.arguments = ["-u", PeerHost.scriptPath.path, "--echo-server"]
        process.standardInput = stdin
        process.standardOutput = try stdout.handle()
        process.standardError = try stderr.handle()
        try process.run()
        do {
            let port = try await poll("the echo server process to start (stderr: \(stderr.text))") { () -> Int? in
                if !process.isRunning { throw ProxyTestError("peers.py --echo-server exited with \(process.terminationStatus): \(stderr.text)") }
                return stdout.lines.first.flatMap { JSONValue.parse($0) }?["port"]?.int
            }
            return EchoServerProcess(process: process, port: port, input: stdin.fileHandleForWriting, stdout: stdout, stderr: stderr)
        } catch {
            try? stdin.fileHandleForWriting.close()
            stopProcess(process)
            stdout.remove()
            stderr.remove()
            throw error
        }
    }

    /// SIGKILL, a bounded wait for the exit, and the reaping; the signal that ended it.
    @discardableResult
    func crash() async throws -> Int32 {
        _ = kill(process.processIdentifier, SIGKILL)
        _ = try await poll("the echo server process to die") { process.isRunning ? nil : true }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Kills (if it still runs) and reaps the process, and removes its files. For `defer`.
    func cleanUp() {
        try? input.close()
        stopProcess(process, signal: SIGKILL)
        stdout.remove()
        stderr.remove()
    }
}
