/// Character classes and small helpers from the HTTP grammar (RFC 9110 §5.6).
enum HTTPSyntax {
    /// tchar: any VCHAR except delimiters.
    @inline(__always)
    static func isTokenByte(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"),
             UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    static func isToken<S: StringProtocol>(_ s: S) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy(isTokenByte)
    }

    /// SP or HTAB.
    @inline(__always)
    static func isWhitespace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 }

    /// Field-value bytes: VCHAR, SP, HTAB and obs-text; no other controls.
    @inline(__always)
    static func isFieldValueByte(_ c: UInt8) -> Bool { c >= 0x20 ? c != 0x7F : c == 0x09 }

    static func trimmed<S: StringProtocol>(_ s: S) -> String {
        let bytes = Array(s.utf8)
        var start = 0
        var end = bytes.count
        while start < end, isWhitespace(bytes[start]) { start += 1 }
        while end > start, isWhitespace(bytes[end - 1]) { end -= 1 }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }

    /// ASCII-only lowercase, so header names compare the same on every platform.
    static func lowercased<S: StringProtocol>(_ s: S) -> String {
        String(decoding: s.utf8.map { c in
            c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") ? c | 0x20 : c
        }, as: UTF8.self)
    }

    static func equalsIgnoringCase<A: StringProtocol, B: StringProtocol>(_ a: A, _ b: B) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        for (x, y) in zip(a.utf8, b.utf8) where x != y {
            let lx = x >= 0x41 && x <= 0x5A ? x | 0x20 : x
            let ly = y >= 0x41 && y <= 0x5A ? y | 0x20 : y
            if lx != ly { return false }
        }
        return true
    }

    /// Splits a list value on commas outside quoted strings, trims each element
    /// and drops empty ones (RFC 9110 §5.6.1 says to ignore them).
    static func splitList(_ value: String) -> [String] {
        var elements: [String] = []
        var current: [UInt8] = []
        var inQuotes = false
        var escaped = false
        for c in value.utf8 {
            if inQuotes {
                if escaped {
                    escaped = false
                } else if c == UInt8(ascii: "\\") {
                    escaped = true
                } else if c == UInt8(ascii: "\"") {
                    inQuotes = false
                }
                current.append(c)
            } else if c == UInt8(ascii: ",") {
                let element = trimmed(String(decoding: current, as: UTF8.self))
                if !element.isEmpty { elements.append(element) }
                current.removeAll(keepingCapacity: true)
            } else {
                if c == UInt8(ascii: "\"") { inQuotes = true }
                current.append(c)
            }
        }
        let element = trimmed(String(decoding: current, as: UTF8.self))
        if !element.isEmpty { elements.append(element) }
        return elements
    }
}
