import ArgumentParser
import Capture
import Diagnosis
import Dispatch
import FaultInjection
import Foundation
import LiveProxy
import MetricsReporting
import NIOConcurrencyHelpers
import Reporting
import WebSocketWire
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

struct Proxy: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Relay WebSocket traffic between clients and a server, diagnosing every close live.",
        discussion: """
            Point your client at --listen instead of the server. Every byte is forwarded unchanged, \
            as soon as it arrives, in both directions; wsdoctor only watches. Each connection's close \
            is diagnosed with the same rules as replay. Ctrl-C or SIGTERM stops accepting, reports \
            the connections still open and prints a summary.
            """
    )

    @Option(help: "Address to listen on, HOST:PORT (e.g. 127.0.0.1:8080; port 0 picks a free one).")
    var listen: String

    @Option(help: "The server to forward to: ws://HOST:PORT.")
    var upstream: String

    @Option(help: "Seconds to keep relaying open connections after SIGTERM before closing them with 1012 (client) and 1001 (server).")
    var drainTimeout: Double = 10

    @Option(help: "Output format: text or json (one JSON object per closed connection, as replay prints). Default: text on a terminal, json otherwise (for log collectors).")
    var format: Replay.OutputFormat?

    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain to present to clients (terminates TLS from clients; needs --tls-key).")
    var tlsCertificate: String?

    @Option(name: .customLong("tls-key"), help: "PEM private key for --tls-cert.")
    var tlsKey: String?

    @Option(name: .customLong("upstream-ca"), help: "PEM file of certificate authorities to trust for a wss:// upstream instead of the system store.")
    var upstreamCA: String?

    @Flag(name: .customLong("upstream-insecure"), help: "Do not verify the wss:// upstream's certificate (said loudly at start-up).")
    var upstreamInsecure = false

    @Option(help: "Append the TLS session keys of both legs to FILE in the NSS key log format, so Wireshark can decrypt a capture.")
    var keylog: String?

    @Option(help: "Serve /metrics (Prometheus), /healthz and /readyz on HOST:PORT. Off unless asked.")
    var admin: String?

    @Option(help: "Record what was relayed, both directions, as a pcap file that `wsdoctor replay` reads back.")
    var record: String?

    @Flag(help: "Replace the Host header of client requests with the upstream's host:port. This alters traffic.")
    var rewriteHost = false

    @Option(help: "Inject the faults listed in FILE (YAML, a `faults:` list; see the README). This alters traffic.")
    var faults: String?

    @Option(help: "Serve the fault injection API (JSON: list, add and remove faults, list connections, act on one now) on HOST:PORT. Off unless asked; this alters traffic.")
    var control: String?

    @OptionGroup var diagnosis: DiagnosisOptions

    @OptionGroup var reconnects: ReconnectOptions

    @Option(help: "Seconds a client has to send its whole request head once connected through; past it: 408 and close. 0 turns it off.")
    var headTimeout: Double = 60

    @Option(help: "Seconds the upstream has to answer an upgrade request; past it the client gets 504. 0 turns it off.")
    var upgradeTimeout: Double = 60

    @Option(help: "Connections relayed at once; past it a new client gets 503 with Retry-After. Default: half of (the descriptor limit − 64), at most 10000.")
    var maxConnections: Int?

    @Option(help: "Also keep a self-contained HTML report of the connections in FILE (those still open shown as open), rewritten every few seconds and at stop.")
    var html: String?

    @Option(help: "Also keep the WebSocket connections in FILE as HAR 1.2 (Chrome DevTools' format), rewritten every few seconds and at stop.")
    var har: String?

    func validate() throws {
        if drainTimeout < 0 { throw ValidationError("--drain-timeout must be zero or more seconds") }
        if headTimeout < 0 || !headTimeout.isFinite { throw ValidationError("--head-timeout must be zero (off) or more seconds") }
        if upgradeTimeout < 0 || !upgradeTimeout.isFinite { throw ValidationError("--upgrade-timeout must be zero (off) or more seconds") }
        if let maxConnections, maxConnections < 1 { throw ValidationError("--max-connections must be 1 or more") }
        guard Self.splitHostPort(listen) != nil else {
            throw ValidationError("--listen must be HOST:PORT, e.g. 127.0.0.1:8080 (got \(listen))")
        }
        if let control, Self.splitHostPort(control) == nil {
            throw ValidationError("--control must be HOST:PORT, e.g. 127.0.0.1:9091 (got \(control))")
        }
        if let admin, Self.splitHostPort(admin) == nil {
            throw ValidationError("--admin must be HOST:PORT, e.g. 127.0.0.1:9090 (got \(admin))")
        }
        guard let address = UpstreamAddress(url: upstream) else {
            throw ValidationError("--upstream must be ws://HOST:PORT (got \(upstream))")
        }
        if (tlsCertificate == nil) != (tlsKey == nil) {
            throw ValidationError("--tls-cert and --tls-key go together")
        }
        if !address.secure && (upstreamCA != nil || upstreamInsecure) {
            throw ValidationError("--upstream-ca and --upstream-insecure apply to a wss:// upstream")
        }
    }

    /// The format in effect: as asked, else text on a terminal and JSON lines for a log collector.
    private var outputFormat: Replay.OutputFormat {
        format ?? (isatty(1) == 1 ? .text : .json)
    }

    func run() throws {
        let format = outputFormat
        // Before the event loops start, so they inherit the mask.
        let stopSignals = StopSignals.block()
        let (host, port) = Self.splitHostPort(listen)!
        let rules = try diagnosis.rules()
        // Read before anything listens: a bad fault stops start-up with its file and line.
        let faultBook = try faults.map { path in FaultBook(try Self.loadFaults(path)) } ?? (control == nil ? nil : FaultBook())
        var analyzer = diagnosis.analyzerConfiguration(format: format)
        // A report keeps each connection's frames; --frames then prints them with its close.
        let keepsTimeline = html != nil || har != nil
        let showsFrames = analyzer.recordTimeline
        analyzer.recordTimeline = showsFrames || keepsTimeline
        var configuration = ProxyConfiguration(listenHost: host, listenPort: port, upstream: UpstreamAddress(url: upstream)!,
                                               analyzer: analyzer, rules: rules)
        configuration.showsFramesLive = !keepsTimeline
        configuration.recordPath = record
        configuration.rewriteHost = rewriteHost
        configuration.faults = faultBook
        configuration.limits.headTimeout = headTimeout > 0 ? headTimeout : nil
        configuration.limits.upgradeTimeout = upgradeTimeout > 0 ? upgradeTimeout : nil
        if let maxConnections { configuration.limits.maxConnections = maxConnections }
        configuration.tls.certificatePath = tlsCertificate
        configuration.tls.keyPath = tlsKey
        configuration.tls.upstreamCAPath = upstreamCA
        configuration.tls.upstreamInsecure = upstreamInsecure
        configuration.tls.keyLogPath = keylog
        let reportFile = LiveReportFile(html: html, har: har, redaction: diagnosis.redaction, source: "proxy to \(configuration.upstream)")
        let reporter = LiveReporter(format: format, redaction: diagnosis.redaction, colour: isatty(1) == 1,
                                    timelineAtClose: showsFrames && keepsTimeline, reportFile: reportFile)
        let metrics = admin == nil ? nil : LiveMetrics()
        reporter.followReconnects(LiveReconnects(rules: rules, options: reconnects) { episodes in
            reporter.reconnectEpisodes(episodes)
            for episode in episodes { metrics?.recordReconnect(category: episode.diagnosis.category) }
        })
        let server: ProxyServer
        do {
            server = try ProxyServer(configuration: configuration, events: reporter, metrics: metrics)
        } catch {
            printError("wsdoctor: \(error)")
            throw ExitCode(2)
        }
        reportFile?.takeOpenConnections { server.openConnections() }
        // The admin port is bound first: a bad --admin stops start-up before the proxy listens.
        var adminServer: AdminServer?
        if let admin, let metrics = server.metrics {
            let (adminHost, adminPort) = Self.splitHostPort(admin)!
            do {
                adminServer = try AdminServer(host: adminHost, port: adminPort, group: server.eventLoopGroup, metrics: metrics, readiness: server)
            } catch {
                printError("wsdoctor: cannot serve the admin endpoint on \(admin): \(error)")
                try? server.shutdown()
                throw ExitCode(2)
            }
        }
        var controlServer: ControlServer?
        if let control, let faultBook {
            let (controlHost, controlPort) = Self.splitHostPort(control)!
            do {
                controlServer = try ControlServer(host: controlHost, port: controlPort, proxy: server, book: faultBook)
            } catch {
                printError("wsdoctor: cannot serve the control API on \(control): \(error)")
                adminServer?.close()
                try? server.shutdown()
                throw ExitCode(2)
            }
        }
        let bound: String
        do {
            let address = try server.start()
            let shown = address.ipAddress.map { $0.contains(":") ? "[\($0)]:\(address.port ?? 0)" : "\($0):\(address.port ?? 0)" } ?? listen
            bound = shown + (tlsCertificate != nil ? " (TLS)" : "")
        } catch {
            printError("wsdoctor: cannot listen on \(listen): \(error)")
            adminServer?.close()
            controlServer?.close()
            try? server.shutdown()
            throw ExitCode(2)
        }
        reporter.notice("wsdoctor proxy listening on \(bound), forwarding to \(configuration.upstream)"
                        + (record.map { ", recording to \($0)" } ?? "")
                        + (rewriteHost ? "; rewriting Host headers to \(configuration.upstream.host):\(configuration.upstream.port) (traffic is altered)" : "")
                        + (faults.map { "; injecting \(faultBook?.all.count ?? 0) fault\(faultBook?.all.count == 1 ? "" : "s") from \($0) (traffic is altered)" } ?? "")
                        + (faults == nil && control != nil ? "; faults may be injected through --control (traffic may be altered)" : ""))
        reporter.notice(configuration.limits.summary)
        if let address = adminServer?.localAddress {
            reporter.notice("admin endpoint on http://\(address.ipAddress ?? "?"):\(address.port ?? 0) (/metrics, /healthz, /readyz)")
        }
        if let address = controlServer?.localAddress {
            reporter.notice("fault control API on http://\(address.ipAddress ?? "?"):\(address.port ?? 0) (/faults, /connections); anyone who reaches it can alter traffic")
        }
        if upstreamInsecure {
            reporter.notice("WARNING: --upstream-insecure: the upstream's TLS certificate is NOT verified; anyone in between can read and change the traffic")
        }
        if let keylog {
            reporter.notice("WARNING: --keylog: TLS session keys are being written to \(keylog); anyone with that file can decrypt the traffic")
        }

        // Stop on Ctrl-C and SIGTERM: report what is open, print the summary, exit 0.
        let received = stopSignals.wait()
        adminServer?.close()
        controlServer?.close()
        // The event loops go away below; open connections are reported as they end.
        reportFile?.stopRewriting()
        if received == SIGTERM {
            // A deploy or reschedule: drain, then close what is left as a restart.
            server.stopAccepting()
            let deadline = wallClockNow().nanoseconds + Int64(drainTimeout * 1e9)
            while server.activeConnections > 0 && wallClockNow().nanoseconds < deadline {
                usleep(20_000)
            }
            server.closeRemainingAsRestart()
        } else {
            server.stop()
        }
        // Give open connections' reports a moment to be written from their event loops.
        var waited = 0
        while server.activeConnections > 0 && waited < 50 {
            usleep(20_000)
            waited += 1
        }
        try? server.shutdown()
        defer { reporter.finish() }
        try reportFile?.finish()
    }

    /// The faults of a `--faults` file, or one line naming the file and line and exit 2.
    private static func loadFaults(_ path: String) throws -> [Fault] {
        guard let data = FileManager.default.contents(atPath: path) else {
            printError("wsdoctor: cannot read --faults \(path)")
            throw ExitCode(2)
        }
        do {
            return try FaultParser.parseFile(String(decoding: data, as: UTF8.self), file: path)
        } catch {
            printError("wsdoctor: \(error)")
            throw ExitCode(2)
        }
    }

    static func splitHostPort(_ text: String) -> (String, Int)? {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        return (host, port)
    }
}
