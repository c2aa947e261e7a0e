import Diagnosis
import Foundation
import NIOConcurrencyHelpers
import Reporting
import WebSocketWire

/// `--html` and `--har` for proxy and sniff: every finished connection goes in, and the
/// files are rewritten whole (atomically) every few seconds while something changed, and
/// at stop, so a browser refresh shows the current state.
// The timer is set up in init and cancelled in finish; everything else is behind the lock.
final class LiveReportFile: @unchecked Sendable {
    /// How often the files are rewritten while connections keep ending. 5 s: a refresh
    /// is at most that stale, and rewriting a large report costs little that often.
    static let interval: TimeInterval = 5

    private struct State {
        var html: HTMLReport
        var har: HARLog
        var changed = false
    }

    private let htmlPath: String?
    private let harPath: String?
    private let source: String
    private let state: NIOLockedValueBox<State>
    private let timer: DispatchSourceTimer

    init?(html: String?, har: String?, redaction: Redaction, source: String) {
        guard html != nil || har != nil else { return nil }
        self.htmlPath = html
        self.harPath = har
        self.source = source
        self.state = NIOLockedValueBox(State(html: HTMLReport(redaction: redaction), har: HARLog(redaction: redaction)))
        self.timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "wsdoctor.report-file"))
        timer.schedule(deadline: .now() + Self.interval, repeating: Self.interval)
        timer.setEventHandler { [weak self] in _ = try? self?.write(onlyIfChanged: true) }
        timer.resume()
    }

    func add(_ connection: FinishedConnection) {
        state.withLockedValue {
            if htmlPath != nil { $0.html.add(connection) }
            if harPath != nil { $0.har.add(connection) }
            $0.changed = true
        }
    }

    /// The last write, at stop; a failure is one line on standard error and exit 1.
    func finish() throws {
        timer.cancel()
        try write(onlyIfChanged: false)
    }

    private func write(onlyIfChanged: Bool) throws {
        let (html, har, changed) = state.withLockedValue { state in
            defer { state.changed = false }
            return (state.html, state.har, state.changed)
        }
        guard changed || !onlyIfChanged else { return }
        if let htmlPath {
            try writeReportFile(html.document(title: "wsdoctor: \(source)", source: source, generated: wallClockNow()), to: htmlPath)
        }
        if let harPath { try writeReportFile(har.document(version: WSDoctor.configuration.version), to: harPath) }
    }
}
