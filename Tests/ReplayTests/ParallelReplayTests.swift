import Capture
@testable import CaptureAnalysis
import Diagnosis
import Foundation
import Reporting
import Testing
import WebSocketWire
import WireTestSupport

/// `replay --threads N` hands on exactly what one thread does, in the same order.
@Suite struct ParallelReplayTests {
    /// Everything a replay hands on, rendered: each connection as JSON and as text with its
    /// timeline, then the counts, the statistics and the error. On more than one thread the
    /// workers render ahead; on one, each report is rendered as it is handed on.
    static func rendered(_ path: String, threads: Int, chunkEvents: Int? = nil, webSocketPorts: Set<UInt16> = [],
                         renderedAhead: ((FinishedConnection) -> Void)? = nil) -> [String] {
        var lines: [String] = []
        var configuration = AnalyzerConfiguration()
        configuration.recordTimeline = true
        let json = ConnectionJSON(), text = ConnectionText()
        let render: @Sendable (FinishedConnection) -> String = { connection in
            json.render(connection.facts, diagnosis: connection.diagnosis, capture: path) + "\n"
                + text.render(connection.facts, diagnosis: connection.diagnosis, timeline: connection.timeline,
                              timelineNotKept: connection.timelineEntriesNotKept)
        }
        let session = ReplaySession(configuration: configuration, webSocketPorts: webSocketPorts, render: render) { connection in
            if connection.rendered != nil { renderedAhead?(connection) }
            lines.append(connection.rendered ?? render(connection))
        }
        let ended: (statistics: CaptureStatistics, error: CaptureError?)
        if let chunkEvents {
            ended = ParallelReplay(session: session, workers: threads, chunkEvents: chunkEvents, chunkBytes: 64)
                .run(session.makeFeeder(file: path, filter: nil))
        } else {
            ended = session.replay(file: path, threads: threads)
        }
        lines.append("\(session.reportedConnections) \(session.upgradedConnections) \(session.otherConnections) \(ended.statistics) \(ended.error.map { "\($0)" } ?? "no error")")
        return lines
    }

    @Test(arguments: allFixtures)
    func everyFixtureGivesTheSameReportsOnAnyNumberOfThreads(_ name: String) {
        let path = fixturePath(name)
        let single = Self.rendered(path, threads: 1)
        #expect(single.count > 0)
        for threads in [2, 4, 8] {
            #expect(Self.rendered(path, threads: threads) == single, "\(name) on \(threads) threads")
        }
        // One event per chunk: every merge boundary falls between two events somewhere.
        #expect(Self.rendered(path, threads: 3, chunkEvents: 1) == single, "\(name) with one event per chunk")
    }

    /// A report rendered ahead assumes a wave of one: where the wave changes the diagnosis
    /// (`restart-wave` needs three), the connection is diagnosed and rendered again.
    @Test func aRestartWaveIsDiagnosedWhereItsWaveIsKnown() {
        let path = fixturePath("diag-restart-wave-1012.pcap")
        let single = Self.rendered(path, threads: 1)
        var ahead: [String] = []
        let parallel = Self.rendered(path, threads: 2) { ahead.append($0.diagnosis.id) }
        #expect(parallel == single)
        #expect(single.filter { $0.contains("\"id\":\"restart-wave\"") }.count == 3)
        // Only the first close of the wave kept its prepared report; the others were redone.
        #expect(ahead == ["restart-1012"])
        // Where no rule asks for the wave, every report is rendered ahead.
        var normal = 0
        #expect(Self.rendered(fixturePath("normal-1000.pcap"), threads: 2) { _ in normal += 1 } == Self.rendered(fixturePath("normal-1000.pcap"), threads: 1))
        #expect(normal == 1)
    }

    @Test func joinedMidStreamConnectionsAreDecodedTheSameWhenThePortIsNamed() {
        let ports: Set<UInt16> = [replayFixture("normal-1000.pcap").only.server.port, replayFixture("deflate.pcap").only.server.port]
        for name in ["mid-stream.pcap", "deflate-mid-stream.pcap", "no-syn.pcap"] {
            let single = Self.rendered(fixturePath(name), threads: 1, webSocketPorts: ports)
            #expect(single.count == 2, "\(name): one connection, as JSON and text, and the counts")
            #expect(Self.rendered(fixturePath(name), threads: 4, chunkEvents: 2, webSocketPorts: ports) == single, "\(name)")
        }
    }

    @Test func manyInterleavedConnectionsGiveTheSameReportsOnAnyNumberOfThreads() throws {
        let capture = try GeneratedCapture.shared()
        let single = Self.rendered(capture.path, threads: 1)
        #expect(single.count == capture.connections + 1)
        for threads in [2, 4, 8] {
            #expect(Self.rendered(capture.path, threads: threads) == single, "\(threads) threads")
        }
        #expect(Self.rendered(capture.path, threads: 2, chunkEvents: 7) == single, "chunks of 7 events")
    }

    @Test func commandOutputIsByteIdenticalForEveryFixtureAndFormat() throws {
        let capture = try GeneratedCapture.shared()
        let files = allFixtures.map(fixturePath) + [capture.path]
        for (options, threadCounts) in [(["--format", "json"], ["2", "4", "8"]), (["--format", "text"], ["2", "4", "8"]),
                                        (["--format", "text", "--frames"], ["4"])] {
            let single = try runWSDoctor(["replay"] + files + options + ["--threads", "1"])
            #expect(single.status == 0, "\(single.stderr)")
            #expect(single.stdout.contains("\"type\":\"connection\"") || single.stdout.contains("by diagnosis:"))
            for threads in threadCounts {
                let parallel = try runWSDoctor(["replay"] + files + options + ["--threads", threads])
                #expect(parallel.status == single.status && parallel.stderr == single.stderr)
                #expect(parallel.stdout == single.stdout, "\(options) on \(threads) threads")
            }
        }
    }

    @Test func harAndHTMLReportsAreIdentical() throws {
        let capture = try GeneratedCapture.shared()
        let files = [capture.path, fixturePath("diag-restart-wave-1012.pcap"), fixturePath("two-connections.pcap")]
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("parallel-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func reports(threads: String) throws -> (har: String, html: String) {
            let har = directory.appendingPathComponent("\(threads).har").path, html = directory.appendingPathComponent("\(threads).html").path
            let result = try runWSDoctor(["replay"] + files + ["--har", har, "--html", html, "--threads", threads])
            #expect(result.status == 0, "\(result.stderr)")
            // The HTML names the moment it was written; nothing else in it may differ.
            let page = try String(contentsOfFile: html, encoding: .utf8)
                .replacing(/"generated":"[^"]*"/, with: "")
            return (try String(contentsOfFile: har, encoding: .utf8), page)
        }
        let single = try reports(threads: "1")
        #expect(single.har.contains("_webSocketMessages"))
        let parallel = try reports(threads: "4")
        #expect(parallel.har == single.har)
        #expect(parallel.html == single.html)
    }

    @Test func truncatedCaptureGivesTheSameErrorAndEverythingBeforeIt() throws {
        let capture = try GeneratedCapture.shared()
        let original = try Data(contentsOf: URL(fileURLWithPath: capture.path))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("truncated-\(UUID().uuidString).pcap").path
        // Cut a little past the middle, inside some packet.
        try original.prefix(original.count / 2 + 7).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        for format in ["json", "text"] {
            let single = try runWSDoctor(["replay", path, "--format", format, "--threads", "1"])
            #expect(single.status != 0)
            #expect(single.stderr.split(separator: "\n").count == 1 && single.stderr.lowercased().contains("truncated"))
            #expect(single.stdout.split(separator: "\n").count > 20, "connections before the cut are reported")
            for threads in ["2", "8"] {
                let parallel = try runWSDoctor(["replay", path, "--format", format, "--threads", threads])
                #expect(parallel.status == single.status)
                #expect(parallel.stderr == single.stderr)
                #expect(parallel.stdout == single.stdout, "\(format) on \(threads) threads")
            }
        }
        let single = Self.rendered(path, threads: 1)
        #expect(single.last?.lowercased().contains("truncated") == true)
        #expect(Self.rendered(path, threads: 4, chunkEvents: 5) == single)
    }

    @Test func threadsOutOfRangeAreRefused() throws {
        for value in ["0", "257"] {
            let result = try runWSDoctor(["replay", fixturePath("normal-1000.pcap"), "--threads", value])
            #expect(result.status != 0)
            #expect(result.stderr.contains("--threads must be between 1 and 256"))
        }
    }
}

/// A capture of many interleaved connections (32 open at once), written by the replay
/// benchmark's generator once into .build (deterministic: a fixed seed) and reused.
struct GeneratedCapture: Sendable {
    let path: String
    let connections: Int

    private static let made: Result<GeneratedCapture, any Error> = Result {
        let connections = 300
        let directory = repositoryRoot.appendingPathComponent(".build/test-captures")
        let path = directory.appendingPathComponent("interleaved-\(connections).pcap").path
        if FileManager.default.fileExists(atPath: path) { return GeneratedCapture(path: path, connections: connections) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let partial = path + ".\(getpid()).partial"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", repositoryRoot.appendingPathComponent("Benchmarks/replay/generate_capture.py").path,
                             "--size-mb", "2", "--connections", "\(connections)", "--out", partial]
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw GenerationFailed() }
        try FileManager.default.moveItem(atPath: partial, toPath: path)
        return GeneratedCapture(path: path, connections: connections)
    }

    static func shared() throws -> GeneratedCapture { try made.get() }

    struct GenerationFailed: Error, CustomStringConvertible {
        var description: String { "Benchmarks/replay/generate_capture.py failed" }
    }
}
