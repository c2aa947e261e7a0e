import Diagnosis

/// Writes one JSON object with keys in the order given, so output is stable and diffable.
public struct JSONWriter {
    public private(set) var output = ""
    private var needsComma: [Bool] = []

    public init() {}

    public mutating func beginObject(_ key: String? = nil) {
        prefix(key)
        output += "{"
        needsComma.append(false)
    }

    public mutating func endObject() {
        output += "}"
        needsComma.removeLast()
    }

    public mutating func beginArray(_ key: String? = nil) {
        prefix(key)
        output += "["
        needsComma.append(false)
    }

    public mutating func endArray() {
        output += "]"
        needsComma.removeLast()
    }

    public mutating func string(_ key: String?, _ value: String?) {
        prefix(key)
        if let value { Self.appendQuoted(value, to: &output) } else { output += "null" }
    }

    public mutating func number<N: BinaryInteger>(_ key: String?, _ value: N?) {
        prefix(key)
        output += value.map { String($0) } ?? "null"
    }

    public mutating func number(_ key: String?, _ value: Double?) {
        prefix(key)
        guard let value, value.isFinite else {
            output += "null"
            return
        }
        output += value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    public mutating func bool(_ key: String?, _ value: Bool?) {
        prefix(key)
        output += value.map { $0 ? "true" : "false" } ?? "null"
    }

    /// A value already rendered as JSON (a connection object inside a comparison).
    public mutating func raw(_ key: String?, _ json: String) {
        prefix(key)
        output += json
    }

    /// A fact's value as the matching JSON type.
    public mutating func value(_ key: String?, _ value: FactValue) {
        switch value {
        case .int(let number): self.number(key, number)
        case .number(let number): self.number(key, number)
        case .string(let text): string(key, text)
        case .bool(let flag): bool(key, flag)
        case .list(let items):
            beginArray(key)
            for item in items { string(nil, item) }
            endArray()
        }
    }

    private mutating func prefix(_ key: String?) {
        if let last = needsComma.last {
            if last { output += "," }
            needsComma[needsComma.count - 1] = true
        }
        if let key {
            Self.appendQuoted(key, to: &output)
            output += ":"
        }
    }

    static func appendQuoted(_ value: String, to output: inout String) {
        output += "\""
        // Most strings need no escaping: append them whole.
        if !value.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C || $0 == 0x7F }) {
            output += value
            output += "\""
            return
        }
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case "\u{00}"..."\u{1F}", "\u{7F}":
                let hex = String(scalar.value, radix: 16)
                output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                output.unicodeScalars.append(scalar)
            }
        }
        output += "\""
    }
}
