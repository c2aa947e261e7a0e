import ArgumentParser
import Capture
import CaptureAnalysis
import Diagnosis
import Dispatch
import MetricsReporting
import NIOPosix
import Reporting
import WebSocketWire
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

struct Sniff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Diagnose the WebSocket connections crossing a network interface, without touching them.",
        discussion: """
            Captures live through libpcap (needs CAP_NET_RAW: root, `setcap cap_net_raw+ep`, or the \
            NET_RAW capability in a container) and decodes with the same reassembly, analyzer and rules \
            as replay. Nothing is sent: a sidecar sharing the pod's network sees every connection \
            and cannot disturb one. Each connection is reported as it ends; Ctrl-C or SIGTERM reports \
            those still open and prints a summary.
            """
    )

    @Option(name: [.customShort("i"), .long], help: "Interface to capture on (e.g. eth0, lo, or any).")
    var interface: String

    @Option(help: "A BPF filter in tcpdump syntax (e.g. 'tcp port 8080'). Narrow it to your service: less to copy from the kernel.")
    var filter: String = "tcp"

    @Option(name: .customLong("ws-port"), help: "A server port carrying WebSocket; connections to it that were open before the capture began are decoded from the first frame boundary found. Repeatable.")
    var webSocketPorts: [UInt16] = []

    @Option(help: "Output format: text or json (one JSON object per closed connection, as replay prints). Default: text on a terminal, json otherwise.")
    var format: Replay.OutputFormat?

    @Option(help: "Serve /metrics (Prometheus), /healthz and /readyz on HOST:PORT. Off unless asked.")
    var admin: String?

    @Option(help: "Seconds without a packet after which a connection is reported and no longer followed (0: never). Bounds memory when ends are lost.")
    var idleExpiry: Double = 7200

    @Option(help: "MiB of kernel buffer for packets not yet read; raise it if the summary reports kernel drops.")
    var kernelBuffer: Int = 16

    @Option(help: "Also save every captured packet to FILE (pcap), unredacted, for Wireshark or a later `wsdoctor replay`.")
    var write: String?

    @Option(help: "Stop after this many seconds, as if interrupted.")
    var duration: Double?

    @OptionGroup var diagnosis: DiagnosisOptions

    @OptionGroup var reconnects: ReconnectOptions

    @Option(help: "Also keep a self-contained HTML report of the connections in FILE (those still open shown as open), rewritten every few seconds and at stop.")
    var html: String?

    @Option(help: "Also keep the WebSocket connections in FILE as HAR 1.2 (Chrome DevTools' format), rewritten every few seconds and at stop.")
    var har: String?

    func validate() throws {
        if interface.isEmpty { throw ValidationError("--interface needs a name, e.g. eth0, lo or any") }
        if idleExpiry < 0 { throw ValidationError("--idle-expiry must be zero (never) or more seconds") }
        if !(1...2048).contains(kernelBuffer) { throw ValidationError("--kernel-buffer must be 1 to 2048 MiB") }
        if let duration, duration <= 0 { throw ValidationError("--duration must be a positive number of seconds") }
        if let admin, Proxy.splitHostPort(admin) == nil {
            throw ValidationError("--admin must be HOST:PORT, e.g. 127.0.0.1:9090 (got \(admin))")
        }
    }

    func run() throws {
        let format = format ?? (isatty(1) == 1 ? .text : .json)
        // Before any thread starts, so every thread inherits the mask.
        let stopSignals = StopSignals.block()
        let rules = try diagnosis.rules()
        var analyzer = diagnosis.analyzerConfiguration(format: format)
        let showsFrames = analyzer.recordTimeline
        analyzer.recordTimeline = showsFrames || html != nil || har != nil
        let reporter = LiveReporter(format: format, redaction: diagnosis.redaction, colour: isatty(1) == 1,
                                    timelineAtClose: showsFrames)
        let reportFile = LiveReportFile(html: html, har: har, redaction: diagnosis.redaction, source: "sniff on \(interface)")

        var options = InterfaceCapture.Options()
        options.bufferSize = kernelBuffer * 1024 * 1024
        let feeder: InterfaceFeeder
        do {
            feeder = try InterfaceFeeder(interface: interface, filter: filter, options: options,
                                         configuration: TCPReassembler.Configuration(serverPorts: Set(webSocketPorts)),
                                         idleExpiry: idleExpiry > 0 ? idleExpiry : nil)
            if let write { try feeder.write(to: write) }
        } catch {
            printError("wsdoctor: \(error)")
            throw ExitCode(2)
        }

        let metrics = admin == nil ? nil : LiveMetrics(source: .capture)
        reporter.followReconnects(LiveReconnects(rules: rules, options: reconnects) { episodes in
            reporter.reconnectEpisodes(episodes)
            for episode in episodes { metrics?.recordReconnect(category: episode.diagnosis.category) }
        })
        let readiness = ReadinessFlag(Readiness(ready: true, detail: "ready: capturing on \(interface)"))
        let adminLoops = admin == nil ? nil : MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let adminServer = try startAdmin(group: adminLoops, metrics: metrics, readiness: readiness)

        let session = ReplaySession(configuration: analyzer, rules: rules, webSocketPorts: Set(webSocketPorts), order: .ending) { connection in
            reporter.connectionClosed(connection)
            metrics?.recordClose(connection)
            reportFile?.add(connection)
        }
        session.onHandshakeAnswered = { reporter.connectionOpened($0) }

        reporter.notice("wsdoctor sniff capturing on \(interface) (filter: \(filter)); nothing is sent, traffic is only watched"
                        + (write.map { "; writing every packet, unredacted, to \($0)" } ?? ""))
        if let address = adminServer?.localAddress {
            reporter.notice("admin endpoint on http://\(address.ipAddress ?? "?"):\(address.port ?? 0) (/metrics, /healthz, /readyz)")
        }
        if let warning = feeder.capture.warning { reporter.notice("libpcap warning on \(interface): \(warning)") }

        DispatchQueue.global().async {
            _ = stopSignals.wait()
            feeder.stop()
        }
        if let duration {
            DispatchQueue.global().asyncAfter(deadline: .now() + duration) { feeder.stop() }
        }

        var failure: CaptureError?
        do {
            try feeder.run(delegate: session) { counts in
                metrics?.observeCapture(connectionsOpened: counts.reassembly.connectionsOpened, openConnections: counts.reassembly.openConnections,
                                        packetsRead: counts.packetsRead, kernelDropped: Int(feeder.capture.kernelStatistics()?.dropped ?? 0))
                reportFile?.offerOpenConnections { session.openConnections() }
            }
        } catch {
            failure = error
        }
        session.finishAll(at: wallClockNow())
        readiness.set(Readiness(ready: false, detail: "not ready: the capture has stopped"))
        adminServer?.close()
        try? adminLoops?.syncShutdownGracefully()
        try reportFile?.finish()
        try finish(session: session, feeder: feeder, reporter: reporter, format: format, failure: failure)
    }

    /// Binds `--admin` on its own event loop; a bad address stops start-up with exit 2.
    private func startAdmin(group: MultiThreadedEventLoopGroup?, metrics: LiveMetrics?, readiness: ReadinessFlag) throws -> AdminServer? {
        guard let admin, let group, let metrics else { return nil }
        let (host, port) = Proxy.splitHostPort(admin)!
        do {
            return try AdminServer(host: host, port: port, group: group, metrics: metrics, readiness: readiness)
        } catch {
            printError("wsdoctor: cannot serve the admin endpoint on \(admin): \(error)")
            try? group.syncShutdownGracefully()
            throw ExitCode(2)
        }
    }

    /// The summary, the categories, and the error that cut the capture (or writing) short, if any.
    private func finish(session: ReplaySession, feeder: InterfaceFeeder, reporter: LiveReporter,
                        format: Replay.OutputFormat, failure: CaptureError?) throws {
        let summary = CaptureSummary(session: session, statistics: feeder.statistics,
                                     kernelDropped: Int(feeder.capture.kernelStatistics()?.dropped ?? 0))
        let problem = failure ?? feeder.capture.writeError
        reporter.line(format == .text ? summary.text : summary.json(source: ("interface", interface), error: problem))
        reporter.finish()
        if let problem {
            printError("wsdoctor: \(problem)")
            throw ExitCode(1)
        }
    }
}
