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

    @Option(help: "Connections kept per capture while pairing; past it they are counted, not compared.")
    var maxConnections: Int = CaptureReading.defaultMaxConnections

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
        let rules = try diagnosis.rules()
        let configuration = diagnosis.analyzerConfiguration(format: format)
        let ports = Set(webSocketPorts)
        let clientSide = CaptureReading.read(file: nearClient, filter: filter, configuration: configuration, rules: rules,
                                             webSocketPorts: ports, maxConnections: maxConnections)
        let serverSide = CaptureReading.read(file: nearServer, filter: filter, configuration: configuration, rules: rules,
                                             webSocketPorts: ports, maxConnections: maxConnections)
        for (path, reading) in [(nearClient, clientSide), (nearServer, serverSide)] {
            if let error = reading.error, reading.connections.isEmpty {
                printError("wsdoctor compare: \(path): \(error)")
                throw ExitCode(2)
            }
        }
        let comparison = CaptureComparison(nearClient: clientSide.connections, nearServer: serverSide.connections, rules: rules)
        if !comparison.pairs.isEmpty && comparison.pairs.allSatisfy(Self.isSameCapture) {
            printError("wsdoctor compare: \(nearClient) and \(nearServer) hold the same capture (same addresses and times); give one capture from each side of the intermediary")
            throw ExitCode(2)
        }
        let output = Output()
        let redaction = diagnosis.redaction
        switch format {
        case .text:
            let text = ComparisonText(redaction: redaction)
            for (index, pair) in comparison.pairs.enumerated() {
                output.line(text.render(pair, number: index + 1))
                output.line("")
            }
            for connection in comparison.onlyNearClient { output.line(text.unmatched(connection, foundIn: .nearClient)) }
            for connection in comparison.onlyNearServer { output.line(text.unmatched(connection, foundIn: .nearServer)) }
            output.line(text.summary(comparison))
        case .json:
            let json = ComparisonJSON(redaction: redaction)
            for pair in comparison.pairs { output.line(json.render(pair, clock: comparison.clock, files: (nearClient, nearServer))) }
            for connection in comparison.onlyNearClient { output.line(json.unmatched(connection, foundIn: .nearClient, file: nearClient)) }
            for connection in comparison.onlyNearServer { output.line(json.unmatched(connection, foundIn: .nearServer, file: nearServer)) }
            output.line(json.summary(comparison))
        }
        output.flush()
        var failed = false
        for (path, reading) in [(nearClient, clientSide), (nearServer, serverSide)] {
            if let error = reading.error {
                printError("wsdoctor compare: \(path): \(error)")
                failed = true
            }
            if reading.connectionsNotKept > 0 {
                printError("wsdoctor compare: \(path): \(reading.connectionsNotKept) connections past --max-connections \(maxConnections) were not compared")
            }
        }
        if comparison.pairs.isEmpty {
            printError("wsdoctor compare: no connection in common (\(clientSide.connections.count) near the client, \(serverSide.connections.count) near the server); are the two captures of the same traffic and time?")
            throw ExitCode(1)
        }
        if failed { throw ExitCode(1) }
    }

    /// Both paths name one file (the same inode), however they are spelled.
    static func sameFile(_ first: String, _ second: String) -> Bool {
        var a = stat()
        var b = stat()
        guard stat(first, &a) == 0, stat(second, &b) == 0 else { return false }
        return a.st_dev == b.st_dev && a.st_ino == b.st_ino
    }

    /// Two copies of one capture pair each connection with itself: same addresses, same start.
    static func isSameCapture(_ pair: PairComparison) -> Bool {
        pair.nearClient.facts.client == pair.nearServer.facts.client && pair.nearClient.facts.server == pair.nearServer.facts.server
            && pair.nearClient.facts.opened == pair.nearServer.facts.opened
    }
}
