import ArgumentParser
import Capture
import CaptureAnalysis
import Diagnosis
import Reconnects
import Reporting
import WebSocketWire

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Diagnose the WebSocket connections in pcap or pcapng captures.",
        discussion: """
            Reads captures made by tcpdump, Wireshark or dumpcap (pcap and pcapng; Ethernet, \
            Linux cooked, raw IP and loopback link types), reassembles every TCP connection and \
            reports each WebSocket connection in the order it opened.
            """
    )

    @Argument(help: "Capture files (.pcap or .pcapng).")
    var files: [String]

    @Option(help: "A BPF filter applied while reading, in tcpdump syntax (e.g. 'tcp port 8080').")
    var filter: String?

    @Option(name: .customLong("ws-port"), help: "A server port carrying WebSocket; connections to it that began before the capture are decoded from the first frame boundary found. Repeatable.")
    var webSocketPorts: [UInt16] = []

    @Option(help: "Output format: text or json (one JSON object per line).")
    var format: OutputFormat = .text

    @OptionGroup var diagnosis: DiagnosisOptions

    @OptionGroup var reconnects: ReconnectOptions

    @Option(help: "Also write the WebSocket connections to FILE as HAR 1.2, as Chrome DevTools exports them (payloads redacted).")
    var har: String?

    @Option(help: "Also write a self-contained HTML report to FILE: every connection on one time axis, and each one's timeline, close and diagnosis.")
    var html: String?

    @Option(help: "Largest HTTP head accepted, in bytes.")
    var maxHeadSize: Int = 16 * 1024

    @Option(help: ArgumentHelp("Worker threads that decode connections (default: the processors online; 1 decodes on the reading thread). The output is the same for any number.",
                               valueName: "n"))
    var threads: Int = Replay.cores

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    func validate() throws {
        if maxHeadSize < 256 { throw ValidationError("--max-head-size must be at least 256 bytes") }
        if !(1...ReplaySession.maxThreads).contains(threads) { throw ValidationError("--threads must be between 1 and \(ReplaySession.maxThreads)") }
    }

    func run() throws {
        let redaction = diagnosis.redaction
        let text = ConnectionText(redaction: redaction)
        let json = ConnectionJSON(redaction: redaction)
        var configuration = diagnosis.analyzerConfiguration(format: .text)
        configuration.decoder.maxHeadSize = maxHeadSize
        configuration.recordTimeline = diagnosis.frames || har != nil || html != nil
        let output = Output()
        let rules = try diagnosis.rules()
        var failures = 0
        var categories = CategoryCounts()
        var harLog = har.map { _ in HARLog(redaction: redaction) }
        var htmlReport = html.map { _ in HTMLReport(redaction: redaction) }

        let clientKey = reconnects.key
        for file in files {
            var printedAny = false
            var tracker = ReconnectTracker(rules: rules, configuration: reconnects.trackerConfiguration)
            func printEpisodes(_ episodes: [ReconnectEpisode]) {
                for episode in episodes {
                    switch format {
                    case .text:
                        if printedAny { output.line("") }
                        output.line(ReconnectText(redaction: redaction).render(episode.facts, diagnosis: episode.diagnosis, closedAt: episode.closedAt))
                    case .json:
                        output.line(ReconnectJSON(redaction: redaction).render(episode.facts, diagnosis: episode.diagnosis, closedAt: episode.closedAt, capture: file))
                    }
                    printedAny = true
                }
            }
            let format = format, frames = diagnosis.frames
            // Run on the worker threads of a parallel replay, so the thread that orders the
            // reports does not build their strings.
            let render: @Sendable (FinishedConnection) -> String = { connection in
                switch format {
                case .text:
                    text.render(connection.facts, diagnosis: connection.diagnosis, timeline: frames ? connection.timeline : nil,
                                timelineNotKept: connection.timelineEntriesNotKept, timelineGap: connection.timelineGap)
                case .json:
                    json.render(connection.facts, diagnosis: connection.diagnosis, capture: file)
                }
            }
            let session = ReplaySession(configuration: configuration, rules: rules, webSocketPorts: Set(webSocketPorts),
                                        render: render) { connection in
                defer {
                    if let attempt = ConnectionAttempt(connection.facts, key: clientKey, ended: true) {
                        printEpisodes(tracker.advance(to: attempt.startedAt) + tracker.ended(attempt))
                    }
                }
                categories.add(connection.diagnosis.category)
                harLog?.add(connection)
                htmlReport?.add(connection, capture: files.count > 1 ? file : nil)
                if format == .text && printedAny { output.line("") }
                output.line(connection.rendered ?? render(connection))
                printedAny = true
            }
            if files.count > 1 && format == .text { output.line("== \(file)") }
            let (stats, failure) = session.replay(file: file, filter: filter, threads: threads)
            printEpisodes(tracker.finish())
            switch format {
            case .text:
                if printedAny { output.line("") }
                output.line(CaptureSummary(session: session, statistics: stats).text)
            case .json:
                output.line(CaptureSummary(session: session, statistics: stats).json(source: ("capture", file), error: failure))
            }
            if let failure {
                failures += 1
                output.flush()
                output.error("wsdoctor: \(failure)")
            }
        }
        switch format {
        case .text:
            if !categories.isEmpty { output.line("by diagnosis: " + categories.summary) }
        case .json:
            output.line(categories.json)
        }
        output.flush()
        if let har, let harLog { try writeReportFile(harLog.document(version: WSDoctor.configuration.version), to: har) }
        if let html, let htmlReport {
            let names = files.map { $0.split(separator: "/").last.map(String.init) ?? $0 }
            let title = "wsdoctor: " + (names.count == 1 ? names[0] : "\(names.count) captures")
            try writeReportFile(htmlReport.document(title: title, source: "replay of " + names.joined(separator: ", "), generated: wallClockNow()), to: html)
        }
        if failures > 0 { throw ExitCode(1) }
    }
}

extension Replay {
    /// The processors online: `--threads`' default.
    static var cores: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }
}

/// Buffered standard output, with errors on standard error after what came before.
final class Output {
    private var buffer: [UInt8] = []

    func line(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        buffer.append(0x0A)
        if buffer.count > 64 * 1024 { flush() }
    }

    func flush() {
        guard !buffer.isEmpty else { return }
        buffer.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(1, bytes.baseAddress! + offset, bytes.count - offset)
                if written <= 0 { break }
                offset += written
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }

    func error(_ text: String) {
        let line = Array((text + "\n").utf8)
        line.withUnsafeBytes { _ = write(2, $0.baseAddress!, $0.count) }
    }
}
