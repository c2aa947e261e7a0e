import Capture
import CaptureAnalysis
import Diagnosis
import Foundation
import Reporting

/// Feeds one fuzzer input to `wsdoctor replay --frames` as a capture file, text and JSON.
///
/// libpcap reads only files, so the input is written to one per process, in memory
/// (`/dev/shm`) where there is one, and removed after each run.
enum CaptureFuzzTarget {
    private static let path: String = {
        let folder = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        return "\(folder)/wsdoctor-fuzz-\(ProcessInfo.processInfo.processIdentifier).pcap"
    }()

    private static let configuration: AnalyzerConfiguration = {
        var configuration = AnalyzerConfiguration()
        configuration.recordTimeline = true
        configuration.decoder.maxInflatedMessageSize = FuzzInput.maxInflatedMessageSize
        return configuration
    }()

    static func run(_ input: UnsafeRawBufferPointer) -> String {
        guard FileManager.default.createFile(atPath: path, contents: Data(input)) else { return "cannot write \(path)" }
        defer { try? FileManager.default.removeItem(atPath: path) }
        var connections = 0
        var reportBytes = 0
        let session = ReplaySession(configuration: configuration) { connection in
            connections += 1
            reportBytes += ReportFuzzTarget.render(connection.facts, diagnosis: connection.diagnosis, timeline: connection.timeline,
                                                   timelineNotKept: connection.timelineEntriesNotKept,
                                                   timelineGap: connection.timelineGap, redaction: Redaction())
        }
        let (statistics, failure) = session.replay(file: path)
        return "\(connections) connections, \(statistics.packetsRead) packets, \(reportBytes) report bytes"
            + (failure.map { "; stopped: \($0)" } ?? "")
    }
}
