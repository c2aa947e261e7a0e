/// Header fields of one HTTP message, in the order and spelling received.
///
/// Names compare ASCII-case-insensitively. Duplicates are kept: a diagnosis
/// often hinges on a header that was sent twice.
public struct HTTPHeaders: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    /// One header line; a struct rather than a tuple so the headers are `Hashable`.
    struct Field: Sendable, Hashable {
        var name: String
        var value: String
    }

    private var fields: [Field]

    /// Headers whose value is a comma-separated list (RFC 9110 §5.6.1).
    ///
    /// Only these are split by `values(_:)`; others (Date, Set-Cookie, User-Agent,
    /// …) legitimately contain commas inside one value.
    static let listHeaders: Set<String> = [
        "accept", "accept-charset", "accept-encoding", "accept-language", "accept-ranges",
        "allow", "cache-control", "connection", "content-encoding", "content-language",
        "content-length", "expect", "if-match", "if-none-match", "pragma", "te", "trailer",
        "transfer-encoding", "upgrade", "vary", "via",
        "sec-websocket-protocol", "sec-websocket-extensions", "sec-websocket-version",
    ]

    /// No headers.
    public init() {
        fields = []
    }

    /// The given header lines, in order.
    public init(_ fields: [(name: String, value: String)]) {
        self.fields = fields.map { Field(name: $0.name, value: $0.value) }
    }

    /// Header lines from a literal; order and duplicates are kept.
    public init(dictionaryLiteral elements: (String, String)...) {
        fields = elements.map { Field(name: $0.0, value: $0.1) }
    }

    /// Appends a header line, keeping any earlier ones of the same name.
    public mutating func add(name: String, value: String) {
        fields.append(Field(name: name, value: value))
    }

    /// Number of header lines.
    public var count: Int { fields.count }

    /// Whether there are no header lines.
    public var isEmpty: Bool { fields.isEmpty }

    /// The value of the first header line called `name` (case-insensitive), as received.
    public subscript(name: String) -> String? {
        fields.first { HTTPSyntax.equalsIgnoringCase($0.name, name) }?.value
    }

    /// All values of header `name`, in order.
    ///
    /// For list headers (Connection, Upgrade, Transfer-Encoding, Content-Length,
    /// Sec-WebSocket-Protocol/-Extensions/-Version, …) each line is split on
    /// commas outside quoted strings and empty elements are dropped; other
    /// headers give one trimmed value per line.
    public func values(_ name: String) -> [String] {
        let isList = Self.listHeaders.contains(HTTPSyntax.lowercased(name))
        var result: [String] = []
        for field in fields where HTTPSyntax.equalsIgnoringCase(field.name, name) {
            if isList {
                result.append(contentsOf: HTTPSyntax.splitList(field.value))
            } else {
                result.append(HTTPSyntax.trimmed(field.value))
            }
        }
        return result
    }

    /// Whether the comma-separated header `name` holds `token` (both case-insensitive).
    ///
    /// Splits every line of `name` on commas, whether or not it is a known list header.
    public func contains(_ name: String, token: String) -> Bool {
        for field in fields where HTTPSyntax.equalsIgnoringCase(field.name, name) {
            for element in HTTPSyntax.splitList(field.value) where HTTPSyntax.equalsIgnoringCase(element, token) {
                return true
            }
        }
        return false
    }

    /// How many header lines are called `name`.
    public func count(of name: String) -> Int {
        fields.reduce(0) { $0 + (HTTPSyntax.equalsIgnoringCase($1.name, name) ? 1 : 0) }
    }

    /// Iterates over `(name, value)` pairs in the order received.
    public struct Iterator: IteratorProtocol {
        private var base: IndexingIterator<[Field]>

        init(_ fields: [Field]) { base = fields.makeIterator() }

        public mutating func next() -> (name: String, value: String)? {
            base.next().map { ($0.name, $0.value) }
        }
    }

    /// An iterator over the header lines in order.
    public func makeIterator() -> Iterator { Iterator(fields) }
}
