import Diagnosis

/// How connections are grouped into clients (`--client-key`).
public enum ClientKey: Sendable, Hashable {
    /// The client's address without its port: one host, one client (NAT puts many behind one).
    case address
    /// A request header's value (a client id, User-Agent); the address when it is missing.
    case header(String)

    /// Headers that carry credentials: a key of one would print the credential as the client.
    static let secretHeaders: Set<String> = ["authorization", "cookie", "proxy-authorization", "sec-websocket-key"]

    /// Parses `address` or `header:NAME`; the error says what is accepted.
    public init(argument: String) throws(ClientKeyError) {
        if argument == "address" {
            self = .address
            return
        }
        guard argument.hasPrefix("header:"), argument.count > "header:".count else {
            throw ClientKeyError(message: "--client-key must be `address` or `header:NAME` (e.g. header:X-Client-Id or header:User-Agent), not '\(argument)'")
        }
        let name = String(argument.dropFirst("header:".count))
        guard !Self.secretHeaders.contains(name.lowercased()) else {
            throw ClientKeyError(message: "--client-key cannot use \(name): it carries a credential, which would be printed as the client")
        }
        self = .header(name)
    }

    /// The client `facts` came from: the header's value, else the address.
    public func client(of facts: ConnectionFacts) -> String {
        switch self {
        case .address:
            return facts.client.address
        case .header(let name):
            return facts.handshake?.requestHeaders[name] ?? facts.client.address
        }
    }
}

/// A `--client-key` that cannot be used, with what is accepted.
public struct ClientKeyError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
