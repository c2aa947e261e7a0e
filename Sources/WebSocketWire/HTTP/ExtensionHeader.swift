/// Parser for `Sec-WebSocket-Extensions` values (RFC 6455 §9.1).
///
/// ```
/// extension-list  = 1#extension
/// extension       = extension-token *( ";" extension-param )
/// extension-param = token [ "=" (token | quoted-string) ]
/// ```
/// Optional whitespace is allowed around `,`, `;` and `=`.
public enum ExtensionHeader {
    /// The extensions in `values` (one string per header line, or already split on commas).
    ///
    /// Elements that break the grammar are skipped; use `parse(_:problems:)` to learn about them.
    public static func parse(_ values: [String]) -> [ExtensionOffer] {
        var problems: [String] = []
        return parse(values, problems: &problems)
    }

    /// The extensions in `values`, appending a description of each malformed element to `problems`.
    ///
    /// A quoted value must still be a token once unquoted (RFC 6455 §9.1).
    public static func parse(_ values: [String], problems: inout [String]) -> [ExtensionOffer] {
        var offers: [ExtensionOffer] = []
        for value in values {
            var scanner = Scanner(Array(value.utf8))
            while true {
                scanner.skipWhitespace()
                guard let c = scanner.peek() else { break }
                if c == UInt8(ascii: ",") {
                    scanner.advance()
                    continue
                }
                switch scanner.parseElement() {
                case .success(let offer):
                    offers.append(offer)
                case .failure(let problem):
                    problems.append("\(problem.message) in Sec-WebSocket-Extensions: \"\(value)\"")
                    scanner.skipToNextElement()
                }
            }
        }
        return offers
    }

    private struct Problem: Error {
        var message: String
    }

    private struct Scanner {
        let bytes: [UInt8]
        var position = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        func peek() -> UInt8? { position < bytes.count ? bytes[position] : nil }

        mutating func advance() { position += 1 }

        mutating func skipWhitespace() {
            while let c = peek(), HTTPSyntax.isWhitespace(c) { advance() }
        }

        mutating func token() -> String {
            let start = position
            while let c = peek(), HTTPSyntax.isTokenByte(c) { advance() }
            return String(decoding: bytes[start..<position], as: UTF8.self)
        }

        /// A quoted-string with quoted-pairs resolved; the opening quote is current.
        mutating func quotedString() -> String? {
            advance()
            var out: [UInt8] = []
            while let c = peek() {
                advance()
                if c == UInt8(ascii: "\"") {
                    return String(decoding: out, as: UTF8.self)
                }
                if c == UInt8(ascii: "\\") {
                    guard let escaped = peek() else { return nil }
                    advance()
                    out.append(escaped)
                } else {
                    out.append(c)
                }
            }
            return nil
        }

        mutating func parseElement() -> Result<ExtensionOffer, Problem> {
            let name = token()
            guard !name.isEmpty else { return .failure(Problem(message: "extension name is not a token")) }
            var offer = ExtensionOffer(name: name)
            while true {
                skipWhitespace()
                guard let c = peek(), c != UInt8(ascii: ",") else { return .success(offer) }
                guard c == UInt8(ascii: ";") else {
                    return .failure(Problem(message: "unexpected '\(Unicode.Scalar(c))' after \(name)"))
                }
                advance()
                skipWhitespace()
                let parameterName = token()
                guard !parameterName.isEmpty else {
                    return .failure(Problem(message: "parameter name of \(name) is not a token"))
                }
                skipWhitespace()
                var value: String?
                if peek() == UInt8(ascii: "=") {
                    advance()
                    skipWhitespace()
                    if peek() == UInt8(ascii: "\"") {
                        guard let unquoted = quotedString() else {
                            return .failure(Problem(message: "unterminated quoted value of \(parameterName)"))
                        }
                        guard HTTPSyntax.isToken(unquoted) else {
                            return .failure(Problem(message: "quoted value of \(parameterName) is not a token"))
                        }
                        value = unquoted
                    } else {
                        let raw = token()
                        guard !raw.isEmpty else {
                            return .failure(Problem(message: "value of \(parameterName) is not a token"))
                        }
                        value = raw
                    }
                }
                offer.parameterList.append(.init(name: parameterName, value: value))
            }
        }

        /// Skips past the next comma that is outside a quoted string.
        mutating func skipToNextElement() {
            var inQuotes = false
            while let c = peek() {
                advance()
                if inQuotes {
                    if c == UInt8(ascii: "\\") { advance() } else if c == UInt8(ascii: "\"") { inQuotes = false }
                } else if c == UInt8(ascii: "\"") {
                    inQuotes = true
                } else if c == UInt8(ascii: ",") {
                    return
                }
            }
        }
    }
}
