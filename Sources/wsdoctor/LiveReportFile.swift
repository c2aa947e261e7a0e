import Diagnosis
import Foundation
import NIOConcurrencyHelpers
import Reporting
import WebSocketWire

/// `--html` and `--har` for proxy and sniff: every finished connection goes in, and the
/// files are rewritten whole (atomically) every few seconds while something changed, and
/// at stop, so a browser refresh shows the current state. Connections still open are in
/// each rewrite as open, with what is known so far, until a rewrite has them finished.
final class LiveReportFile: Sendable {
    /// How often the files are rewritten while connections keep ending. 5 s: a refresh
    /// is at most that stale, and rewriting a large report costs little that often.
    static let interval: TimeInterval = 5

    private struct State {
        var html: HTMLReport
        var har: HARLog
        var changed = false
        /// The open connections as last looked at, and when that was.
        var open: [OpenConnection] = []
        var openTakenAt: Date?
        /// Connections finished since the last look at the open ones began: not shown twice.
        var finishedSinceLook: Set<Int> = []
        /// Asked for the open connections before each rewrite (the proxy's).
        var openSource: (@Sendable () -> [OpenConnection])?
        var stopped = false

        /// While anything is open the files change with every look at it.
        mutating func replaceOpen(_ now: [OpenConnection]) {
            changed = changed || !now.isEmpty || !open.isEmpty
            open = now
        }
    }

    private let htmlPath: String?
    private let harPath: String?
    private let source: String
    private let state: NIOLockedValueBox<State>
    /// Rewrites every `interval`, one at a time; stopped before the last write.
    private let ticker: NIOLockedValueBox<RepeatingTicker?> = NIOLockedValueBox(nil)

    init?(html: String?, har: String?, redaction: Redaction, source: String) {
        guard html != nil || har != nil else { return nil }
        self.htmlPath = html
        self.harPath = har
        self.source = source
        self.state = NIOLockedValueBox(State(html: HTMLReport(redaction: redaction), har: HARLog(redaction: redaction)))
        let started = RepeatingTicker(every: Self.interval) { [weak self] in self?.rewrite() }
        ticker.withLockedValue { $0 = started }
    }

    func add(_ connection: FinishedConnection) {
        state.withLockedValue {
            if htmlPath != nil { $0.html.add(connection) }
            if harPath != nil { $0.har.add(connection) }
            $0.finishedSinceLook.insert(connection.facts.id)
            $0.changed = true
        }
    }

    /// The proxy's open connections, asked for before each rewrite.
    func takeOpenConnections(from source: @escaping @Sendable () -> [OpenConnection]) {
        state.withLockedValue { $0.openSource = source }
    }

    /// Sniff's open connections, from the thread that feeds them: `take` runs only when the
    /// last look is an interval old.
    func offerOpenConnections(_ take: () -> [OpenConnection]) {
        let due = state.withLockedValue { state in
            let due = !state.stopped && state.openTakenAt.map { Date().timeIntervalSince($0) >= Self.interval } ?? true
            if due { state.finishedSinceLook = [] }
            return due
        }
        guard due else { return }
        let open = take()
        state.withLockedValue { state in
            state.replaceOpen(open)
            state.openTakenAt = Date()
        }
    }

    /// No more rewrites every few seconds (the proxy stops, its loops are going away); waits
    /// for one under way.
    func stopRewriting() {
        ticker.withLockedValue { $0 }?.stop()
        state.withLockedValue { $0.stopped = true }
    }

    /// The last write, at stop, when every connection has finished; a failure is one line on
    /// standard error and exit 1.
    func finish() throws {
        stopRewriting()
        state.withLockedValue { $0.open = [] }
        try write(onlyIfChanged: false)
    }

    private func rewrite() {
        let openSource = state.withLockedValue { state -> (@Sendable () -> [OpenConnection])? in
            guard !state.stopped, let source = state.openSource else { return nil }
            state.finishedSinceLook = []
            return source
        }
        if let openSource {
            let open = openSource()
            state.withLockedValue { $0.replaceOpen(open) }
        }
        _ = try? write(onlyIfChanged: true)
    }

    private func write(onlyIfChanged: Bool) throws {
        let (html, har, open, changed) = state.withLockedValue { state in
            defer { state.changed = false }
            let open = state.open.filter { !state.finishedSinceLook.contains($0.facts.id) }
            return (state.html, state.har, open, state.changed)
        }
        guard changed || !onlyIfChanged else { return }
        if let htmlPath {
            try writeReportFile(html.document(title: "wsdoctor: \(source)", source: source, generated: wallClockNow(), open: open), to: htmlPath)
        }
        if let harPath { try writeReportFile(har.document(version: WSDoctor.configuration.version, open: open), to: harPath) }
    }
}
