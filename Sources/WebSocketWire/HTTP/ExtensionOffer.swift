/// One element of a `Sec-WebSocket-Extensions` header: an extension name and its parameters.
///
/// Used both for what a client offers and for what a server accepts.
public struct ExtensionOffer: Sendable, Hashable {
    /// One `name[=value]` parameter; a struct so the offer can be `Hashable`.
    public struct Parameter: Sendable, Hashable {
        /// The parameter name, as sent.
        public var name: String
        /// The value with any quoting removed, or nil when the parameter had no `=`.
        public var value: String?

        public init(name: String, value: String?) {
            self.name = name
            self.value = value
        }
    }

    /// The extension token, as sent (compare case-insensitively).
    public var name: String
    /// The parameters in the order received; `parameters` is the same list as tuples.
    public var parameterList: [Parameter]

    /// The parameters in the order received.
    public var parameters: [(name: String, value: String?)] {
        get { parameterList.map { ($0.name, $0.value) } }
        set { parameterList = newValue.map { Parameter(name: $0.name, value: $0.value) } }
    }

    public init(name: String, parameters: [(name: String, value: String?)] = []) {
        self.name = name
        self.parameterList = parameters.map { Parameter(name: $0.name, value: $0.value) }
    }
}

extension ExtensionOffer: CustomStringConvertible {
    /// The element as it would be written in the header (values quoted only when needed).
    public var description: String {
        var text = name
        for parameter in parameterList {
            text += "; " + parameter.name
            if let value = parameter.value {
                text += "=" + (HTTPSyntax.isToken(value) ? value : "\"" + value + "\"")
            }
        }
        return text
    }
}
