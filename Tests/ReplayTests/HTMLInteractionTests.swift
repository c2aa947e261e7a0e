import Foundation
import Testing

/// The report's keys, the timeline's zoom and pan, and print, driven in headless Chromium
/// over the DevTools protocol; screenshots of the focused and the zoomed page are kept.
extension HTMLReportTests {
    @Test func keysMoveBetweenConnectionsTheTimelineZoomsAndPansAndPrintIsPlain() throws {
        let file = try Self.writeReport()
        defer { try? FileManager.default.removeItem(at: file) }
        try FileManager.default.createDirectory(at: Self.artifacts, withIntermediateDirectories: true)
        let shot = { (name: String) in Self.artifacts.appendingPathComponent(name).path }
        let fragmented = try #require(Self.expected.firstIndex { $0.facts.fromClient.frames + $0.facts.fromServer.frames == 22 }) + 1
        let selected = "document.querySelector('#rows .row.selected').dataset.id"
        let where_ = "location.hash + ' ' + document.body.dataset.view"
        let window = "[+document.querySelector('#timeline').dataset.t0, +document.querySelector('#timeline').dataset.t1, +document.querySelector('#timeline').dataset.marks]"
        let display = { (selector: String) in "getComputedStyle(document.querySelector('\(selector)')).display" }
        let steps: [[String: Any]] = [
            ["navigate": "file://\(file.path)"],
            ["eval": selected],                                     // 1
            ["key": "j"], ["key": "j"], ["eval": selected],         // 4
            ["key": "k"], ["eval": selected],                       // 6
            ["screenshot": shot("keyboard.png")],                   // 7
            ["key": "/"], ["eval": "document.activeElement.id"],    // 9
            ["key": "Escape"], ["eval": "document.activeElement.id"],  // 11
            ["key": "Enter"], ["eval": where_],                     // 13
            ["key": "j"], ["eval": where_],                         // 15
            ["key": "Escape"], ["eval": where_],                    // 17
            ["eval": Self.open(fragmented)],                       // 18
            ["eval": window],                                       // 19
            ["wheel": "#timeline", "deltaY": -120], ["wheel": "#timeline", "deltaY": -120], ["wheel": "#timeline", "deltaY": -120],
            ["eval": window],                                       // 23
            ["drag": "#timeline", "dx": 200], ["eval": window],     // 25
            ["screenshot": shot("zoomed.png")],                     // 26
            ["key": "Escape"],
            ["media": "print"],                                     // 28
            ["eval": "[\(display("#controls")), \(display(".hint")), getComputedStyle(document.querySelector('#rows')).overflowY, getComputedStyle(document.body).backgroundColor]"],  // 29
            ["pdf": shot("report.pdf")],                            // 30
            ["media": ""], ["eval": display("#controls")],          // 32
            ["scheme": "dark"], ["eval": "getComputedStyle(document.body).backgroundColor"],   // 34
            ["scheme": "light"], ["eval": "getComputedStyle(document.body).backgroundColor"],  // 36
        ]
        let run = try DevTools.run(steps)
        let results = run.results
        #expect(run.errors.isEmpty, "the page's errors: \(run.errors)")
        try #require(results.count == steps.count)
        // j twice then k: from the first row to the third and back to the second.
        #expect(results[1] as? String == "1")
        #expect(results[4] as? String == "3")
        #expect(results[6] as? String == "2")
        #expect(results[9] as? String == "search", "/ focuses the search")
        #expect(results[11] as? String != "search", "Esc leaves the search")
        #expect(results[13] as? String == "#c2 connection", "Enter opens the selected connection")
        #expect(results[15] as? String == "#c3 connection", "j moves to the next connection")
        #expect(results[17] as? String == " overview", "Esc goes back")
        #expect(results[18] as? String == "connection")
        let before = try #require(results[19] as? [Double]), zoomed = try #require(results[23] as? [Double]), panned = try #require(results[25] as? [Double])
        // Three wheel turns in, each 0.8 of the window, around the pointer.
        let width = before[1] - before[0], zoomedWidth = zoomed[1] - zoomed[0]
        #expect(abs(zoomedWidth - width * 0.512) <= 2, "zoomed \(before) to \(zoomed)")
        #expect(zoomed[0] > before[0])
        #expect(zoomed[2] <= before[2], "fewer marks in view: \(before[2]) to \(zoomed[2])")
        // Dragging right shows earlier time, and the window keeps its width.
        #expect(panned[0] < zoomed[0], "panned \(zoomed) to \(panned)")
        #expect(abs((panned[1] - panned[0]) - zoomedWidth) <= 2)
        let printed = try #require(results[29] as? [String])
        #expect(printed[0] == "none" && printed[1] == "none", "controls and hints are not printed: \(printed)")
        #expect(printed[2] == "visible", "every row is printed, not a scrolling window")
        #expect(printed[3] == "rgb(255, 255, 255)", "printed on white")
        #expect((results[30] as? Int ?? 0) > 10_000, "a PDF was printed")
        #expect(results[32] as? String == "flex", "the screen look is back after print")
        // The dark theme follows the system's preference; the light one is the default.
        #expect(results[34] as? String == "rgb(21, 23, 27)", "dark background: \(String(describing: results[34]))")
        #expect(results[36] as? String != results[34] as? String, "light background: \(String(describing: results[36]))")
        for name in ["keyboard.png", "zoomed.png"] {
            #expect((results[name == "keyboard.png" ? 7 : 26] as? Int ?? 0) > 10_000, "\(name) was written")
        }
        print("HTML report interaction screenshots: \(Self.artifacts.path)/keyboard.png, zoomed.png, report.pdf")
    }

    /// Script that opens connection `id` and answers the page's view once it has changed.
    static func open(_ id: Int) -> String {
        "new Promise((done) => { addEventListener('hashchange', () => done(document.body.dataset.view), { once: true }); location.hash = '#c\(id)'; })"
    }
}
