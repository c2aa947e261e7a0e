import Reporting

/// Connections counted by diagnosis category, for the closing summary.
struct CategoryCounts {
    private var counts: [String: Int] = [:]

    var isEmpty: Bool { counts.isEmpty }

    mutating func add(_ category: String) {
        counts[category, default: 0] += 1
    }

    /// Most frequent first, then by name.
    private var ordered: [(String, Int)] {
        counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
    }

    /// `policy 3, normal 2`
    var summary: String {
        ordered.map { "\($0.0) \($0.1)" }.joined(separator: ", ")
    }

    /// `{"type":"categories","counts":{"policy":3,…}}`
    var json: String {
        var writer = JSONWriter()
        writer.beginObject()
        writer.string("type", "categories")
        writer.beginObject("counts")
        for (category, count) in ordered { writer.number(category, count) }
        writer.endObject()
        writer.endObject()
        return writer.output
    }
}
