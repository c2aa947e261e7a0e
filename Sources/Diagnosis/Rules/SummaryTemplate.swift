/// Text with `{fact.name}` placeholders filled from a connection's facts.
///
/// `{{` and `}}` stand for literal braces. A fact with no value reads as "unknown".
/// `{fact|quoted}` puts a text fact in quotes, or reads "no reason given" when it is empty.
public struct SummaryTemplate: Sendable, Hashable {
    public let source: String
    enum Piece: Sendable, Hashable {
        case text(String)
        case fact(String, quoted: Bool)
    }
    let pieces: [Piece]

    public enum ParseError: Error, Equatable {
        case unclosedPlaceholder(column: Int)
        case emptyPlaceholder(column: Int)
        case unknownFilter(String)
    }

    public init(_ source: String) throws(ParseError) {
        self.source = source
        var pieces: [Piece] = []
        var text = ""
        var characters = Array(source)[...]
        var column = 0
        while let character = characters.popFirst() {
            column += 1
            if character == "{" && characters.first == "{" {
                text.append("{")
                characters = characters.dropFirst()
                column += 1
            } else if character == "}" && characters.first == "}" {
                text.append("}")
                characters = characters.dropFirst()
                column += 1
            } else if character == "{" {
                guard let close = characters.firstIndex(of: "}") else { throw .unclosedPlaceholder(column: column) }
                let parts = String(characters[..<close]).split(separator: "|", maxSplits: 1).map { String($0).trimming(" ") }
                guard let name = parts.first, !name.isEmpty else { throw .emptyPlaceholder(column: column) }
                let filter = parts.count > 1 ? parts[1] : nil
                if let filter, filter != "quoted" { throw .unknownFilter(filter) }
                if !text.isEmpty { pieces.append(.text(text)) }
                text = ""
                pieces.append(.fact(name, quoted: filter != nil))
                column += characters.distance(from: characters.startIndex, to: close) + 1
                characters = characters[characters.index(after: close)...]
            } else {
                text.append(character)
            }
        }
        if !text.isEmpty { pieces.append(.text(text)) }
        self.pieces = pieces
    }

    /// Facts the template names, in order.
    public var factNames: [String] {
        pieces.compactMap { if case .fact(let name, _) = $0 { return name } else { return nil } }
    }

    public func render(_ facts: [String: FactValue]) -> String {
        pieces.map { piece in
            switch piece {
            case .text(let text): return text
            case .fact(let name, let quoted):
                guard let value = facts[name] else { return "unknown" }
                guard quoted else { return value.description }
                return value.description.isEmpty ? "no reason given" : "\"" + value.description + "\""
            }
        }.joined()
    }
}
