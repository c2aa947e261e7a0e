import Foundation
import Testing
import WireTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// One `wsdoctor sniff --interface lo` process watching a port.
final class SniffProcess: ReportingProcess {
    let process: Process
    let stdout: OutputFile
    let stderr: OutputFile
    /// The admin endpoint's port, when `--admin 127.0.0.1:0` was given.
    let adminPort: Int?

    private init(process: Process, stdout: OutputFile, stderr: OutputFile, adminPort: Int?) {
        self.process = process
        self.stdout = stdout
        self.stderr = stderr
        self.adminPort = adminPort
    }

    /// Starts sniffing `tcp port PORT` on the loopback and waits until it captures (and, with
    /// `admin`, serves the admin endpoint).
    static func start(port: Int, admin: Bool = false, extraArguments: [String] = []) async throws -> SniffProcess {
        var arguments = ["sniff", "--interface", "lo", "--filter", "tcp port \(port)", "--format", "json"] + extraArguments
        if admin { arguments += ["--admin", "127.0.0.1:0"] }
        let (process, stdout, stderr, _) = try await launchWSDoctor(arguments, json: true) { message in
            message.hasPrefix("wsdoctor sniff capturing on lo") ? true : nil
        }
        var adminPort: Int?
        if admin {
            do {
                adminPort = try await poll("the admin endpoint notice: \(stdout.text)") { () -> Int? in
                    stdout.lines.compactMap { JSONValue.parse(String($0))?["message"]?.string }.compactMap(Self.adminPort).first
                }
            } catch {
                stopProcess(process)
                stdout.remove()
                stderr.remove()
                throw error
            }
        }
        return SniffProcess(process: process, stdout: stdout, stderr: stderr, adminPort: adminPort)
    }

    /// The port in "admin endpoint on http://127.0.0.1:NNNNN (/metrics, …)".
    static func adminPort(_ message: String) -> Int? {
        let prefix = "admin endpoint on http://127.0.0.1:"
        guard message.hasPrefix(prefix) else { return nil }
        return Int(message.dropFirst(prefix.count).prefix { $0.isNumber })
    }
}

/// Capturing needs CAP_NET_RAW; CI runs as root. Elsewhere the capture tests do not run and
/// the permission test checks the message instead.
let canCapture = geteuid() == 0

/// `wsdoctor sniff` on the loopback interface, watching real `websockets` peers: the same
/// diagnoses as replay of a tcpdump capture of the same traffic, metrics and readiness over
/// HTTP, connections still open at the end or given up after --idle-expiry, and the errors
/// a sidecar meets (no CAP_NET_RAW, a missing interface, a bad filter).
extension ProxyTests {
    @Test("sniff diagnoses each close as it happens, the same as replay of a tcpdump capture", .enabled(if: canCapture))
    func sniffMatchesReplayOfTcpdump() async throws {
        let peers = try PeerHost.shared
        // A server of its own, so the capture holds only this test's connections.
        let server = try await peers.run("new_server", ["routed": true])
        let port = try #require(server["port"]?.int)
        let capture = FileManager.default.temporaryDirectory.appendingPathComponent("wsdoctor-sniff-\(UUID().uuidString).pcap")
        defer { try? FileManager.default.removeItem(at: capture) }
        let tcpdump = try await TcpdumpProcess.start(filter: "tcp port \(port)", writing: capture)
        defer { tcpdump.cleanUp() }
        let sniff = try await SniffProcess.start(port: port)
        defer { sniff.cleanUp() }

        // First a client that connects and says nothing, before the server has answered any
        // upgrade: sniff holds it until the next connection's 101, then reports it, as replay does.
        let silent = try await peers.run("raw_exchange", ["port": port, "data_b64": "", "mode": "fin", "pause": 0.2])
        let tag = freshTag()
        let policy = try await peers.run("session", ["port": port, "path": "/policy?tag=\(tag)&token=hunter2",
                                                     "messages": ["hello", "forbidden word"], "close": false])
        let normal = try await peers.run("session", ["port": port, "path": "/echo?tag=\(freshTag())", "messages": ["one", "two"]])
        let reset = try await peers.run("reset", ["port": port, "tag": freshTag()])
        let violation = try await peers.run("raw_violation", ["port": port, "violation": "unmasked", "tag": freshTag()])
        let clients = try [silent, policy, normal, reset, violation].map { try #require($0["local_port"]?.int, "\($0)") }

        // Reported live, before the capture stops.
        var live: [Int: JSONValue] = [:]
        for client in clients { live[client] = try await sniff.connection(clientPort: client) }
        expectDiagnosis(try #require(live[clients[0]]), id: "client-sent-nothing", category: "abnormal")
        expectDiagnosis(try #require(live[clients[1]]), id: "content-policy", category: "policy")
        expectDiagnosis(try #require(live[clients[2]]), id: "normal-close", category: "normal")
        #expect(live[clients[1]]?["handshake"]?["path"]?.string?.contains("hunter2") == false, "the token is redacted")

        // tcpdump writes each packet as it reads it (--immediate-mode -U); give it a moment
        // to read the last ones, which wsdoctor has already seen.
        try await Task.sleep(for: .milliseconds(300))
        try await tcpdump.stop()
        let replayed = try replayJSON(capture)
        for client in clients {
            let fromReplay = try #require(replayed.first { $0["client"]?.string == "127.0.0.1:\(client)" }, "replay lacks client \(client)")
            let fromSniff = try #require(live[client])
            // Each capture socket stamps a packet itself, a few microseconds apart: times agree
            // to within a millisecond, everything else exactly.
            for field in ["id", "category", "evidence"] {
                let same = nearlyEqual(fromSniff["diagnosis"]?[field], fromReplay["diagnosis"]?[field], within: 0.001)
                #expect(same, "diagnosis.\(field) for client \(client): \(fromSniff) vs \(fromReplay)")
            }
            #expect(fromSniff["close"] == fromReplay["close"], "close for client \(client)")
            #expect(fromSniff["violations"] == fromReplay["violations"], "violations for client \(client)")
        }
        let (status, objects) = try await sniff.stop(signal: SIGINT)
        #expect(status == 0, "stderr: \(sniff.stderr.text)")
        let summary = try #require(objects.first { $0["type"]?.string == "summary" })
        #expect(summary["interface"]?.string == "lo")
        #expect(summary["reported_connections"]?.int == 5, "\(summary)")
        #expect(summary["upgraded_connections"]?.int == 4, "\(summary)")
        #expect(summary["kernel_dropped_packets"]?.int == 0)
        #expect(objects.last?["type"]?.string == "categories")
        _ = try await peers.run("shutdown_close", ["server": server["server"]?.int ?? 0, "port": port, "code": 1001, "reason": "done"])
    }

    @Test("sniff's /metrics count the closes it saw; /readyz while capturing; SIGTERM stops it cleanly; --write replays the same", .enabled(if: canCapture))
    func sniffMetricsAndHealth() async throws {
        let peers = try PeerHost.shared
        let server = try await peers.run("new_server")
        let port = try #require(server["port"]?.int)
        let written = FileManager.default.temporaryDirectory.appendingPathComponent("wsdoctor-sniff-write-\(UUID().uuidString).pcap")
        defer { try? FileManager.default.removeItem(at: written) }
        let sniff = try await SniffProcess.start(port: port, admin: true, extraArguments: ["--write", written.path])
        defer { sniff.cleanUp() }
        let adminPort = try #require(sniff.adminPort)

        let normal = try await peers.run("session", ["port": port, "path": "/", "messages": ["a", "b"]])
        #expect(normal["close_code"]?.int == 1000)
        let restart = try await peers.run("shutdown_close", ["server": server["server"]?.int ?? 0, "port": port, "code": 1012, "reason": "restarting"])
        #expect(restart["close_code"]?.int == 1012)
        let reports = try await sniff.waitForConnections(2)
        #expect(Set(reports.compactMap { $0["diagnosis"]?["category"]?.string }) == ["normal", "restart"], "\(reports)")

        let metrics = try scrape("http://127.0.0.1:\(adminPort)/metrics")
        #expect(metrics.status == 200)
        let series = metrics.body
        #expect(sample(series, #"wsdoctor_closes_total{code="1000",category="normal",initiator="client"}"#) == 1, "\(series)")
        #expect(sample(series, #"wsdoctor_closes_total{code="1012",category="restart",initiator="server"}"#) == 1, "\(series)")
        #expect(sample(series, "wsdoctor_connections_total") == 2, "\(series)")
        #expect(sample(series, "wsdoctor_connections_active") == 0, "\(series)")
        #expect((sample(series, "wsdoctor_captured_packets_total") ?? 0) >= 20, "\(series)")
        #expect(sample(series, "wsdoctor_capture_dropped_packets_total") == 0, "\(series)")
        #expect(!series.contains("wsdoctor_relayed_bytes_total"), "sniff relays nothing")
        let ready = try scrape("http://127.0.0.1:\(adminPort)/readyz")
        #expect(ready.status == 200 && ready.body.contains("capturing on lo"), "\(ready)")
        #expect(try scrape("http://127.0.0.1:\(adminPort)/healthz").status == 200)

        let live = try await expectCleanStop(sniff, counts: ["normal": 1, "restart": 1], signal: SIGTERM)
        // What --write saved replays to the same connections and diagnoses.
        let replayed = try replayJSON(written)
        #expect(replayed.map { $0["diagnosis"]?["id"] } == live.map { $0["diagnosis"]?["id"] }, "\(replayed) vs \(live)")
        #expect(replayed.map { $0["client"] } == live.map { $0["client"] })
    }

    @Test("sniff reports a connection still open when stopped, and gives one up after --idle-expiry", .enabled(if: canCapture))
    func sniffStillOpenAndIdleExpiry() async throws {
        let peers = try PeerHost.shared
        let server = try await peers.run("new_server")
        let port = try #require(server["port"]?.int)
        let patient = try await SniffProcess.start(port: port)
        defer { patient.cleanUp() }
        let forgetful = try await SniffProcess.start(port: port, extraArguments: ["--idle-expiry", "1"])
        defer { forgetful.cleanUp() }

        let held = try await peers.run("hold_open", ["port": port, "tag": freshTag()])
        let client = try #require(held["local_port"]?.int)
        let expired = try await forgetful.connection(clientPort: client)
        expectDiagnosis(expired, id: "tracking-expired", category: "still-open")
        let idle = try #require(expired["diagnosis"]?["evidence"]?["tcp.idle_before_end"]?.number, "\(expired)")
        #expect(idle >= 1 && idle < 5, "\(expired)")
        #expect(patient.connections.isEmpty, "without --idle-expiry 1 the connection is still followed")

        let stopped = try await expectCleanStop(patient, counts: ["still-open": 1])
        expectDiagnosis(try #require(stopped.first), id: "still-open", category: "still-open")
        let (status, objects) = try await forgetful.stop()
        #expect(status == 0)
        #expect(objects.first { $0["type"]?.string == "summary" }?["expired_connections"]?.int == 1)
        _ = try await peers.run("shutdown_close", ["server": server["server"]?.int ?? 0, "port": port, "code": 1001, "reason": "done"])
    }

    @Test("sniff without CAP_NET_RAW says so in one line and exits 2")
    func sniffWithoutPermission() throws {
        // Root drops the capability (setpriv, util-linux); anyone else lacks it already.
        let dropped = canCapture ? ["--inh-caps=-all", "--bounding-set=-all"] : nil
        let result: (status: Int32, stderr: String)
        if let dropped {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = dropped + [wsdoctorExecutable().path, "sniff", "--interface", "lo"]
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            result = (process.terminationStatus, String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
        } else {
            result = try wsdoctorExit(["sniff", "--interface", "lo"], environment: [:])
        }
        #expect(result.status == 2)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("wsdoctor: lo: no permission to capture"), "\(result.stderr)")
        #expect(result.stderr.contains("CAP_NET_RAW"), "\(result.stderr)")
    }

    @Test("sniff's configuration errors: a missing interface (from WSDOCTOR_INTERFACE), a bad filter", .enabled(if: canCapture))
    func sniffConfigurationErrors() throws {
        let missing = try wsdoctorExit(["sniff"], environment: ["WSDOCTOR_INTERFACE": "nosuch0"])
        #expect(missing.status == 2)
        #expect(missing.stderr.hasPrefix("wsdoctor: nosuch0: no such network interface (interfaces here: "), "\(missing.stderr)")
        #expect(missing.stderr.contains("lo"), "the interfaces there are are listed: \(missing.stderr)")
        #expect(missing.stderr.split(separator: "\n").count == 1)

        let filter = try wsdoctorExit(["sniff", "-i", "lo", "--filter", "tcp port nonsense"], environment: [:])
        #expect(filter.status == 2)
        #expect(filter.stderr.hasPrefix("wsdoctor: lo: bad capture filter 'tcp port nonsense'"), "\(filter.stderr)")

        let write = try wsdoctorExit(["sniff", "-i", "lo", "--write", "/nonexistent-dir/packets.pcap"], environment: [:])
        #expect(write.status == 2)
        #expect(write.stderr.hasPrefix("wsdoctor: /nonexistent-dir/packets.pcap: cannot open capture file"), "\(write.stderr)")

        let expiry = try wsdoctorExit(["sniff", "-i", "lo"], environment: ["WSDOCTOR_IDLE_EXPIRY": "-3"])
        #expect(expiry.status == 2)
        #expect(expiry.stderr.contains("--idle-expiry (WSDOCTOR_IDLE_EXPIRY)"), "\(expiry.stderr)")
    }
}

/// `tcpdump -i lo -w FILE`, recording what the sniff test's peers exchange.
final class TcpdumpProcess: Sendable {
    let process: Process
    let stderr: OutputFile

    private init(process: Process, stderr: OutputFile) {
        self.process = process
        self.stderr = stderr
    }

    static func start(filter: String, writing file: URL) async throws -> TcpdumpProcess {
        let stderr = try OutputFile("tcpdump-stderr")
        let process = Process()
        // Children of the test runner start with every signal blocked; tcpdump must see SIGTERM,
        // so Python clears the mask and then becomes tcpdump.
        process.executableURL = PeerHost.pythonPath
        process.arguments = ["-c", "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execvp(sys.argv[1], sys.argv[1:])",
                             "tcpdump", "-i", "lo", "--immediate-mode", "--time-stamp-precision=nano", "-U", "-s", "0", "-w", file.path, filter]
        process.standardError = try stderr.handle()
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let tcpdump = TcpdumpProcess(process: process, stderr: stderr)
        do {
            // "listening on lo" comes once the capture is active.
            _ = try await poll("tcpdump to start: \(stderr.text)") { () -> Bool? in
                if !process.isRunning { throw ProxyTestError("tcpdump exited: \(stderr.text)") }
                return stderr.text.contains("listening on") ? true : nil
            }
        } catch {
            tcpdump.cleanUp()
            throw error
        }
        return tcpdump
    }

    /// SIGTERM, so tcpdump writes what it holds and exits.
    func stop() async throws {
        kill(process.processIdentifier, SIGTERM)
        _ = try await poll("tcpdump to exit") { process.isRunning ? nil : true }
        process.waitUntilExit()
    }

    func cleanUp() {
        stopProcess(process, signal: SIGTERM)
        stderr.remove()
    }
}

/// `wsdoctor replay --format json [arguments] FILE`: the objects of `type` it prints.
func replayJSON(_ capture: URL, arguments: [String] = [], type: String = "connection") throws -> [JSONValue] {
    let process = Process()
    process.executableURL = wsdoctorExecutable()
    process.arguments = ["replay", "--format", "json"] + arguments + [capture.path]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { JSONValue.parse($0) }
        .filter { $0["type"]?.string == type }
}

/// Equal, except that numbers may differ by `tolerance`.
func nearlyEqual(_ a: JSONValue?, _ b: JSONValue?, within tolerance: Double) -> Bool {
    switch (a, b) {
    case (.number(let x)?, .number(let y)?):
        return abs(x - y) <= tolerance
    case (.array(let xs)?, .array(let ys)?):
        return xs.count == ys.count && zip(xs, ys).allSatisfy { nearlyEqual($0, $1, within: tolerance) }
    case (.object(let xs)?, .object(let ys)?):
        return Set(xs.keys) == Set(ys.keys) && xs.allSatisfy { nearlyEqual($0.value, ys[$0.key], within: tolerance) }
    default:
        return a == b
    }
}
