import Foundation
import Testing

/// `wsdoctor proxy` between real peers: Python `websockets` servers and clients, and raw
/// clients and servers that break the protocol on purpose (peers/peers.py, one process for
/// the whole suite). Each test starts its own proxy on a port the kernel picks, so tests run
/// in parallel; the shared servers tell connections apart by a tag in the path.
///
/// The tests are in extensions: LiveDiagnosisTests.swift, CloseCategoryTests.swift,
/// NIOPeerTests.swift (a SwiftNIO server written for the tests as the upstream),
/// TransparencyTests.swift, BadInputTests.swift, HalfCloseTests.swift.
@Suite(.pythonPeers, .timeLimit(.minutes(2)))
struct ProxyTests {}

// MARK: - Assertions shared by the proxy tests

/// Checks a connection object's diagnosis id and category.
func expectDiagnosis(_ connection: JSONValue, id: String, category: String,
                     sourceLocation: SourceLocation = #_sourceLocation) {
    let diagnosis = connection["diagnosis"]
    #expect(diagnosis?["id"]?.string == id, "diagnosis id; the connection: \(connection)", sourceLocation: sourceLocation)
    #expect(diagnosis?["category"]?.string == category, "diagnosis category; the connection: \(connection)", sourceLocation: sourceLocation)
    for field in ["summary", "fix"] {
        let text = diagnosis?[field]?.string ?? ""
        #expect(text.count > 0, "diagnosis.\(field) is empty", sourceLocation: sourceLocation)
    }
    if case .object = diagnosis?["evidence"] {} else {
        Issue.record("diagnosis.evidence is not an object: \(connection)", sourceLocation: sourceLocation)
    }
}

/// Stops the proxy with `signal`; checks the exit status 0, that the last object is the
/// categories object with `counts`, and returns every connection object printed.
@discardableResult
func expectCleanStop(_ proxy: some ReportingProcess, counts: [String: Int], signal: Int32 = SIGINT,
                     sourceLocation: SourceLocation = #_sourceLocation) async throws -> [JSONValue] {
    let (status, objects) = try await proxy.stop(signal: signal)
    #expect(status == 0, "exit status after signal \(signal); stderr: \(proxy.stderr.text)", sourceLocation: sourceLocation)
    let last = objects.last
    #expect(last?["type"]?.string == "categories", "last object: \(String(describing: last))", sourceLocation: sourceLocation)
    let expected = JSONValue.object(counts.mapValues { .number(Double($0)) })
    #expect(last?["counts"] == expected, "categories: \(String(describing: last))", sourceLocation: sourceLocation)
    #expect(objects.first?["type"]?.string == "notice", sourceLocation: sourceLocation)
    return objects.filter { $0["type"]?.string == "connection" }
}

extension JSONValue {
    /// The port of an `address:port` string field.
    var port: Int? { string.flatMap { $0.split(separator: ":").last.flatMap { Int($0) } } }
}
