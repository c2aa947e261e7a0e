import ArgumentParser
import Comparison
import Diagnosis
import Reporting
import WebSocketWire

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare two captures of the same traffic, taken on each side of an intermediary.",
        discussion: """
            NEAR_CLIENT is captured between the client and the intermediary (proxy, load balancer, \
            CDN), NEAR_SERVER between the intermediary and the server. Connections are paired by \
            Sec-WebSocket-Key (else by path and opening order), the clocks are aligned from the \
            handshakes, and every difference is reported with a diagnosis of the pair.
            """
    )

    @Argument(help: "The capture taken near the client (.pcap or .pcapng).")
    var nearClient: String

    @Argument(help: "The capture taken near the server.")
    var nearServer: String

    @Option(help: "A BPF filter applied to both captures while reading, in tcpdump syntax.")
    var filter: String?

    @Option(name: .customLong("ws-port"), help: "A server port carrying WebSocket, on either leg. Repeatable.")
    var webSocketPorts: [UInt16] = []

    @Option(help: "Output format: text or json (one JSON object per line).")
    var format: Replay.OutputFormat = .text

    @OptionGroup var diagnosis: DiagnosisOptions

    @Option(help: "Connections held per capture at once, open or awaiting their counterpart; past it they are counted, not compared.")
    var maxConnections: Int = ComparisonStream.defaultMaxHeld

    func validate() throws {
        if maxConnections <= 0 { throw ValidationError("--max-connections must be a positive number") }
        // A pair's report has no frame list; --frames belongs to replay, sniff and proxy.
        if diagnosis.frames { throw ValidationError("--frames is not shown by compare: replay each capture with --frames") }
    }

    func run() throws {
        for (role, path) in [("near-client", nearClient), ("near-server", nearServer)] where access(path, R_OK) != 0 {
            printError("wsdoctor compare: the \(role) capture \(path) \(access(path, F_OK) == 0 ? "cannot be read" : "does not exist")")
            throw ExitCode(2)
        }
        if Self.sameFile(nearClient, nearServer) {
            printError("wsdoctor compare: \(nearClient) and \(nearServer) are the same file; give one capture from each side of the intermediary")
            throw ExitCode(2)
        }
        let options = ComparisonStream.Options(filter: filter, configuration: diagnosis.analyzerConfiguration(format: format),
                                               rules: try diagnosis.rules(), webSocketPorts: Set(webSocketPorts), maxHeld: maxConnections)
        let stream: ComparisonStream
        do {
            stream = try ComparisonStream(nearClient: nearClient, nearServer: nearServer, options: options)
        } catch {
            printError("wsdoctor compare: \(error.path): \(error.error)")
            throw ExitCode(2)
        }
        if stream.holdsOneCapture {
            printError("wsdoctor compare: \(nearClient) and \(nearServer) hold the same capture (same addresses and times); give one capture from each side of the intermediary")
            throw ExitCode(2)
        }
        let output = Output()
        let redaction = diagnosis.redaction
        let text = ComparisonText(redaction: redaction)
        let json = ComparisonJSON(redaction: redaction)
        var number = 0
        // Each pair is printed as soon as it is settled, and then forgotten.
        stream.run { settled in
            switch (format, settled) {
            case (.text, .pair(let pair)):
                number += 1
                output.line(text.render(pair, number: number))
                output.line("")
            case (.text, .unmatched(let connection, let leg)):
                output.line(text.unmatched(connection, foundIn: leg))
            case (.json, .pair(let pair)):
                output.line(json.render(pair, clock: stream.clock, files: (nearClient, nearServer)))
            case (.json, .unmatched(let connection, let leg)):
                output.line(json.unmatched(connection, foundIn: leg, file: leg == .nearClient ? nearClient : nearServer))
            }
        }
        output.line(format == .json ? json.summary(stream.totals) : text.summary(stream.totals))
        output.flush()
        for failure in stream.errors { printError("wsdoctor compare: \(failure.path): \(failure.error)") }
        for (leg, path) in [(Leg.nearClient, nearClient), (.nearServer, nearServer)] where stream.notKept[leg]! > 0 {
            printError("wsdoctor compare: \(path): \(stream.notKept[leg]!) connections past --max-connections \(maxConnections) held at once were not compared")
        }
        if stream.totals.pairs == 0 {
            printError("wsdoctor compare: no connection in common (\(stream.totals.onlyNearClient) near the client, \(stream.totals.onlyNearServer) near the server); are the two captures of the same traffic and time?")
            throw ExitCode(1)
        }
        if !stream.errors.isEmpty { throw ExitCode(1) }
    }

    /// Both paths name one file (the same inode), however they are spelled.
    static func sameFile(_ first: String, _ second: String) -> Bool {
        var a = stat()
        var b = stat()
        guard stat(first, &a) == 0, stat(second, &b) == 0 else { return false }
        return a.st_dev == b.st_dev && a.st_ino == b.st_ino
    }

}
