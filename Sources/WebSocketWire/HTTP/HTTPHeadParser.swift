/// Incremental head parser: accumulates one head (bounded) across calls.
///
/// Feed it bytes as they arrive; it returns `.needMoreData` until the blank
/// line that ends the head, then the parsed head. It is tolerant where RFC 9112
/// allows a recipient to be (bare LF line endings, empty lines before a request
/// line, §2.2) and strict where leniency enables request smuggling or hides a
/// peer's bug (obsolete line folding, whitespace before the colon, bare CR,
/// control characters, a malformed start line).
public struct HTTPHeadParser: Sendable {
    /// Whether heads start with a request line or a status line.
    public enum Kind: Sendable {
        case request
        case response
    }

    /// What `parse(_:)` found.
    public enum Outcome: Sendable, Hashable {
        case needMoreData
        case request(HTTPRequestHead)
        case response(HTTPResponseHead)
        /// The head breaks the HTTP/1.1 grammar; the text says where.
        case malformed(String)
        /// The head grew past `limit` bytes before it ended.
        case tooLarge(limit: Int)
    }

    private enum StartLine: Sendable {
        case request(method: String, target: String, version: String)
        case response(version: String, status: Int, reason: String)
    }

    private enum State: Sendable {
        /// Before a request line, where empty lines are ignored (RFC 9112 §2.2).
        case skippingEmptyLines
        case startLine
        case headers(StartLine)
        /// A final outcome was returned; `reset()` is needed.
        case finished(Outcome)
    }

    /// The kind of head this parser reads.
    public let kind: Kind
    /// The most bytes one head may take, leading empty lines and the final blank line included.
    public let maxHeadSize: Int

    private var state: State
    /// The current line, without its LF; bounded by `maxHeadSize`.
    private var line: [UInt8] = []
    private var headSize = 0
    private var headers = HTTPHeaders()

    /// Creates a parser for one head of the given kind.
    ///
    /// - Parameter maxHeadSize: the bound on one head, counting every byte up to
    ///   and including the blank line. 16 KiB is what Node.js allows by default
    ///   and twice nginx's usual 8 KiB buffer; real upgrade requests, cookies and
    ///   bearer tokens included, stay well below it, while anything larger in a
    ///   capture is almost always not HTTP at all.
    public init(kind: Kind, maxHeadSize: Int = 16 * 1024) {
        precondition(maxHeadSize > 0, "maxHeadSize must be positive")
        self.kind = kind
        self.maxHeadSize = maxHeadSize
        state = Self.initialState(kind)
    }

    private static func initialState(_ kind: Kind) -> State {
        switch kind {
        case .request: return .skippingEmptyLines
        case .response: return .startLine
        }
    }

    /// Consumes bytes up to and including the blank line that ends the head.
    ///
    /// Returns how many bytes of `bytes` it consumed and the outcome. On
    /// `.needMoreData` it consumed all of them. On `.tooLarge` it consumed up to
    /// and including the byte that crossed the limit. After any other outcome,
    /// call `reset()` before the next head; until then it consumes nothing and
    /// repeats the outcome.
    public mutating func parse(_ bytes: UnsafeRawBufferPointer) -> (consumed: Int, outcome: Outcome) {
        switch state {
        case .finished(let outcome): return (0, outcome)
        case .skippingEmptyLines, .startLine, .headers: break
        }
        var index = 0
        while index < bytes.count {
            let c = bytes[index]
            index += 1
            headSize += 1
            if headSize > maxHeadSize {
                return finish(.tooLarge(limit: maxHeadSize), consumed: index)
            }
            switch state {
            case .skippingEmptyLines:
                if c == UInt8(ascii: "\r") || c == UInt8(ascii: "\n") { continue }
                state = .startLine
                line.append(c)
            case .startLine, .headers:
                if c != UInt8(ascii: "\n") {
                    line.append(c)
                } else if let outcome = lineEnded() {
                    return finish(outcome, consumed: index)
                } else {
                    line.removeAll(keepingCapacity: true)
                }
            case .finished(let outcome):
                // Only finish(_:consumed:) enters this state, and it returns at once.
                return (index, outcome)
            }
        }
        return (bytes.count, .needMoreData)
    }

    /// Forgets everything, ready for the next head.
    public mutating func reset() {
        state = Self.initialState(kind)
        line.removeAll(keepingCapacity: true)
        headSize = 0
        headers = HTTPHeaders()
    }

    private mutating func finish(_ outcome: Outcome, consumed: Int) -> (consumed: Int, outcome: Outcome) {
        state = .finished(outcome)
        line.removeAll()
        headers = HTTPHeaders()
        return (consumed, outcome)
    }

    /// Handles a complete line (LF seen); returns a final outcome, or nil to go on.
    private mutating func lineEnded() -> Outcome? {
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        if line.contains(UInt8(ascii: "\r")) {
            return .malformed("bare CR inside a line: \(Self.quote(line))")
        }
        switch state {
        case .startLine:
            switch kind {
            case .request:
                switch Self.parseRequestLine(line) {
                case .success(let start): state = .headers(start)
                case .failure(let problem): return .malformed(problem.message)
                }
            case .response:
                switch Self.parseStatusLine(line) {
                case .success(let start): state = .headers(start)
                case .failure(let problem): return .malformed(problem.message)
                }
            }
            return nil
        case .headers(let start):
            if line.isEmpty {
                switch start {
                case .request(let method, let target, let version):
                    return .request(HTTPRequestHead(method: method, target: target, version: version, headers: headers))
                case .response(let version, let status, let reason):
                    return .response(HTTPResponseHead(version: version, status: status, reason: reason, headers: headers))
                }
            }
            return parseFieldLine()
        case .skippingEmptyLines, .finished:
            // Lines only end in the two states above.
            return nil
        }
    }

    private mutating func parseFieldLine() -> Outcome? {
        if HTTPSyntax.isWhitespace(line[0]) {
            return .malformed("obsolete line folding (continuation line): \(Self.quote(line))")
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
            return .malformed("header line without a colon: \(Self.quote(line))")
        }
        let name = line[..<colon]
        if name.isEmpty {
            return .malformed("header line with an empty name: \(Self.quote(line))")
        }
        if let last = name.last, HTTPSyntax.isWhitespace(last) {
            return .malformed("whitespace between header name and colon: \(Self.quote(line))")
        }
        guard name.allSatisfy(HTTPSyntax.isTokenByte) else {
            return .malformed("header name is not a token: \(Self.quote(line))")
        }
        var start = colon + 1
        var end = line.count
        while start < end, HTTPSyntax.isWhitespace(line[start]) { start += 1 }
        while end > start, HTTPSyntax.isWhitespace(line[end - 1]) { end -= 1 }
        let value = line[start..<end]
        guard value.allSatisfy(HTTPSyntax.isFieldValueByte) else {
            return .malformed("control character in the value of \(String(decoding: name, as: UTF8.self))")
        }
        headers.add(name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self))
        return nil
    }

    private struct Problem: Error {
        var message: String
    }

    /// method SP request-target SP HTTP-version (RFC 9112 §3).
    private static func parseRequestLine(_ line: [UInt8]) -> Result<StartLine, Problem> {
        let parts = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty }) else {
            return .failure(Problem(message: "request line is not 'method target version': \(quote(line))"))
        }
        guard parts[0].allSatisfy(HTTPSyntax.isTokenByte) else {
            return .failure(Problem(message: "request method is not a token: \(quote(line))"))
        }
        guard parts[1].allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else {
            return .failure(Problem(message: "request target contains a control character: \(quote(line))"))
        }
        guard isHTTPVersion(parts[2]) else {
            return .failure(Problem(message: "request line does not end with HTTP/x.y: \(quote(line))"))
        }
        return .success(.request(
            method: String(decoding: parts[0], as: UTF8.self),
            target: String(decoding: parts[1], as: UTF8.self),
            version: String(decoding: parts[2], as: UTF8.self)))
    }

    /// HTTP-version SP 3DIGIT SP [reason-phrase] (RFC 9112 §4); a missing final SP is tolerated.
    private static func parseStatusLine(_ line: [UInt8]) -> Result<StartLine, Problem> {
        guard line.count >= 12, isHTTPVersion(line[0..<8]), line[8] == UInt8(ascii: " ") else {
            return .failure(Problem(message: "status line does not start with 'HTTP/x.y ': \(quote(line))"))
        }
        let digits = line[9..<12]
        guard digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return .failure(Problem(message: "status code is not three digits: \(quote(line))"))
        }
        let status = digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        var reason = ArraySlice<UInt8>()
        if line.count > 12 {
            guard line[12] == UInt8(ascii: " ") else {
                return .failure(Problem(message: "status code is not three digits: \(quote(line))"))
            }
            reason = line[13...]
            guard reason.allSatisfy(HTTPSyntax.isFieldValueByte) else {
                return .failure(Problem(message: "control character in the reason phrase: \(quote(line))"))
            }
        }
        return .success(.response(
            version: String(decoding: line[0..<8], as: UTF8.self),
            status: status,
            reason: String(decoding: reason, as: UTF8.self)))
    }

    /// "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 §2.3).
    private static func isHTTPVersion<C: Collection>(_ bytes: C) -> Bool where C.Element == UInt8 {
        let b = Array(bytes)
        guard b.count == 8, b[0..<5].elementsEqual("HTTP/".utf8), b[6] == UInt8(ascii: ".") else { return false }
        return (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b[5]) && (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b[7])
    }

    /// The line for a message: printable ASCII kept, anything else escaped, at most 80 bytes.
    private static func quote<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var text = "\""
        for c in bytes.prefix(80) {
            switch c {
            case 0x20..<0x7F where c != UInt8(ascii: "\"") && c != UInt8(ascii: "\\"):
                text.unicodeScalars.append(Unicode.Scalar(c))
            default:
                text += "\\x" + (c < 16 ? "0" : "") + String(c, radix: 16)
            }
        }
        return text + (bytes.count > 80 ? "…\"" : "\"")
    }
}
