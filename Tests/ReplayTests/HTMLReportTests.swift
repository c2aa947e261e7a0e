import Diagnosis
import Foundation
import Reporting
import Testing
import WebSocketWire
import WireTestSupport

/// `--html`: the report of bundled captures, loaded by headless Chromium with the network
/// closed, shows what the diagnoses say; screenshots of it are kept for people to look at.
@Suite(.serialized) struct HTMLReportTests {
    static let fixtures = ["normal-1000.pcap", "protocol-error-1002.pcap", "policy-1008.pcap", "rejected-429.pcap",
                           "two-connections.pcap", "fragmented.pcap", "pings.pcap", "diag-keepalive-timeout.pcap"]

    /// The connections in report order, as the library sees them.
    static let expected: [FinishedConnection] = fixtures.flatMap { replayFixture($0).connections }
    static let captures: [String] = fixtures.flatMap { name in replayFixture(name).connections.map { _ in fixturePath(name) } }

    /// Where the screenshots are kept (never in git).
    static let artifacts = repositoryRoot.appendingPathComponent(".build/test-artifacts/html-report")

    static func writeReport() throws -> URL {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("wsdoctor-report-\(UUID().uuidString).html")
        let result = try runWSDoctor(["replay", "--html", file.path] + fixtures.map(fixturePath))
        #expect(result.status == 0, "\(result.stderr)")
        return file
    }

    private func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    private func occurrences(_ needle: String, in text: String) -> Int {
        text.components(separatedBy: needle).count - 1
    }

    /// The one search a test types, as the page applies it (every word in id, ends, path,
    /// code, category, rule or severity).
    private func matches(_ query: String, _ index: Int) -> Bool {
        let c = Self.expected[index]
        let fields: [String] = [String(index + 1), c.facts.client.description, c.facts.server.description, c.facts.handshake?.path ?? "",
                                c.facts.firstClose?.code.map { String($0) } ?? "", c.facts.firstClose?.code.map { CloseCode.name(of: $0) } ?? "",
                                c.diagnosis.category, c.diagnosis.id, c.diagnosis.severity.rawValue, Self.captures[index]]
        let haystack = fields.joined(separator: " ").lowercased()
        return query.lowercased().split(separator: " ").allSatisfy { haystack.contains($0) }
    }

    @Test func theReportMakesNoRequestAndItsScreenshotsAreKept() throws {
        let file = try Self.writeReport()
        defer { try? FileManager.default.removeItem(at: file) }
        let page = try String(contentsOf: file, encoding: .utf8)
        #expect(page.contains("default-src 'none'"))
        for reference in ["src=", "href=\"http", "url(", "@import", "<link"] { #expect(!page.contains(reference), "the page references \(reference)") }
        try FileManager.default.createDirectory(at: Self.artifacts, withIntermediateDirectories: true)
        let detailID = try #require(Self.expected.firstIndex { $0.diagnosis.category == "protocol-violation" }) + 1
        let shots = [("overview.png", "file://\(file.path)"), ("connection.png", "file://\(file.path)#c\(detailID)")]
        let runs = try shots.map { name, url in
            try HeadlessChromium.start(url, ["--screenshot=\(Self.artifacts.appendingPathComponent(name).path)", "--virtual-time-budget=3000",
                                             "--window-size=1280,\(name == "overview.png" ? 900 : 1200)"])
        }
        let overview = try HeadlessChromium.dumpDOM("file://\(file.path)")
        for run in runs { _ = try HeadlessChromium.finish(run) }
        #expect(overview.dom.contains("data-ready=\"1\""))
        #expect(overview.dom.contains("data-requests=\"0\""))
        // The browser's own update and account checks are in the net log; nothing else may be.
        let pageRequests = overview.requestedURLs.filter { $0.range(of: #"^https?://[a-z0-9.-]+\.(google\.com|googleapis\.com|gstatic\.com)/"#, options: .regularExpression) == nil }
        #expect(pageRequests.isEmpty, "requested: \(pageRequests)")
        for name in ["overview.png", "connection.png"] {
            let size = (try? FileManager.default.attributesOfItem(atPath: Self.artifacts.appendingPathComponent(name).path)[.size] as? Int) ?? 0
            #expect(size > 10_000, "\(name) was not written")
        }
        print("HTML report screenshots: \(Self.artifacts.path)/overview.png, connection.png")
    }

    @Test func theOverviewShowsCountsAndCategories() throws {
        let file = try Self.writeReport()
        defer { try? FileManager.default.removeItem(at: file) }
        let dom = try HeadlessChromium.dumpDOM("file://\(file.path)").dom
        #expect(dom.contains("<dt>connections</dt><dd>\(Self.expected.count)</dd>"))
        #expect(occurrences("<a class=\"row", in: dom) == Self.expected.count)
        let counts = Dictionary(grouping: Self.expected, by: \.diagnosis.category).mapValues(\.count)
        for (category, count) in counts {
            #expect(dom.contains("data-category=\"\(category)\" data-count=\"\(count)\""), "chip for \(category)")
        }
        #expect(counts["normal"] != nil && counts["protocol-violation"] == 1 && counts["policy"] == 1)
        let violations = Self.expected.reduce(0) { $0 + $1.facts.violations.count }
        #expect(dom.contains("<dt>violations</dt><dd>\(violations)</dd>"))
    }

    @Test func filteringAndSearchNarrowTheTable() throws {
        let file = try Self.writeReport()
        defer { try? FileManager.default.removeItem(at: file) }
        let normal = Self.expected.filter { $0.diagnosis.category == "normal" }.count
        let byCategory = try HeadlessChromium.dumpDOM("file://\(file.path)#category=normal").dom
        #expect(byCategory.contains("id=\"shown\" data-count=\"\(normal)\""))
        #expect(occurrences("<a class=\"row", in: byCategory) == normal)
        let rule = try #require(Self.expected.first { $0.diagnosis.category == "policy" }?.diagnosis.id)
        let query = "\(rule) 127.0.0.1"
        let wanted = Self.expected.indices.filter { matches(query, $0) }.count
        #expect(wanted >= 1)
        let searched = try HeadlessChromium.dumpDOM("file://\(file.path)#q=\(query.replacingOccurrences(of: " ", with: "+"))").dom
        #expect(searched.contains("id=\"shown\" data-count=\"\(wanted)\""))
        #expect(occurrences("<a class=\"row", in: searched) == wanted)
    }

    @Test func aConnectionShowsItsDiagnosisTimelineAndViolations() throws {
        let file = try Self.writeReport()
        defer { try? FileManager.default.removeItem(at: file) }
        for category in ["protocol-violation", "normal"] {
            let index = try #require(Self.expected.firstIndex { $0.diagnosis.category == category })
            let connection = Self.expected[index]
            let dom = try HeadlessChromium.dumpDOM("file://\(file.path)#c\(index + 1)").dom
            #expect(dom.contains("data-view=\"connection\""))
            #expect(dom.contains(escaped(connection.diagnosis.summary)))
            #expect(dom.contains(escaped(connection.diagnosis.fix)))
            let frames = connection.facts.fromClient.frames + connection.facts.fromServer.frames
            #expect(dom.contains("data-marks=\"\(frames)\""), "\(category): \(frames) frame marks")
            #expect(occurrences("class=\"mark ", in: dom) == frames)
            #expect(occurrences("class=\"violation\"", in: dom) == connection.facts.violations.count)
            #expect(dom.contains("id=\"frames\" role=\"table\" data-count=\"\(frames)\""))
        }
        let fragmented = try #require(Self.expected.firstIndex { $0.facts.fromClient.frames + $0.facts.fromServer.frames == 22 })
        let dom = try HeadlessChromium.dumpDOM("file://\(file.path)#c\(fragmented + 1)").dom
        #expect(occurrences("class=\"mark ", in: dom) == 22)
        #expect(occurrences("op-continuation", in: dom) > 0)
    }
}
