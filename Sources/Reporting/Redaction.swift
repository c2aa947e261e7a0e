/// Hides credentials and payloads in anything printed, unless the user opts in.
public struct Redaction: Sendable, Hashable {
    /// Print credentials as they were sent.
    public var showSecrets: Bool

    public init(showSecrets: Bool = false) {
        self.showSecrets = showSecrets
    }

    public static let placeholder = "REDACTED"

    /// Query parameters whose values are credentials (compared case-insensitively).
    static let credentialParameters: Set<String> = [
        "token", "access_token", "id_token", "refresh_token", "auth", "authorization", "jwt", "key", "api_key",
        "apikey", "password", "passwd", "pass", "secret", "client_secret", "session", "sessionid", "sig", "signature",
        "code", "ticket",
    ]

    /// Headers whose values are credentials.
    static let credentialHeaders: Set<String> = [
        "authorization", "proxy-authorization", "cookie", "set-cookie", "sec-websocket-protocol-token", "x-api-key", "x-auth-token",
    ]

    /// A request target with credential-like query values replaced.
    public func target(_ target: String) -> String {
        guard !showSecrets, let question = target.firstIndex(of: "?") else { return target }
        let path = target[..<question]
        let query = target[target.index(after: question)...]
        let parts = query.split(separator: "&", omittingEmptySubsequences: false).map { part -> String in
            guard let equals = part.firstIndex(of: "=") else { return String(part) }
            let name = part[..<equals]
            let decodedName = name.lowercased()
            return Self.credentialParameters.contains(decodedName) ? "\(name)=\(Self.placeholder)" : String(part)
        }
        return path + "?" + parts.joined(separator: "&")
    }

    /// A header value, replaced when the header carries credentials.
    public func header(name: String, value: String) -> String {
        guard !showSecrets, Self.credentialHeaders.contains(name.lowercased()) else { return value }
        // Keep the scheme ("Bearer") so the reader knows what kind of credential it was.
        if let space = value.firstIndex(of: " "), name.lowercased().hasSuffix("authorization") {
            return value[..<space] + " " + Self.placeholder
        }
        return Self.placeholder
    }
}
