import Diagnosis

/// Hides credentials in anything printed, unless the user opts in.
///
/// A query parameter or header is a credential when its name, compared without case and
/// without `-`, `_` and `.` (so `api_key`, `API-Key` and `apikey` are one name), is in
/// ``credentialNames``, ends with one of ``credentialEndings``, or was added by the user
/// (`--redact NAME`). A value shaped like a JSON Web Token is hidden whatever its name.
public struct Redaction: Sendable, Hashable {
    /// Print credentials as they were sent.
    public var showSecrets: Bool
    /// Names the user added, normalised as the built-in ones are.
    public private(set) var addedNames: Set<String>

    /// - Parameter alsoRedact: more query parameter or header names to hide (`--redact`).
    public init(showSecrets: Bool = false, alsoRedact names: [String] = []) {
        self.showSecrets = showSecrets
        self.addedNames = Set(names.map(Self.normalised).filter { !$0.isEmpty })
    }

    public static let placeholder = "REDACTED"

    /// Names that carry credentials, in query strings and as headers (normalised: lowercase,
    /// no `-`, `_` or `.`). The README's Privacy section lists them; keep the two in step.
    public static let credentialNames: Set<String> = [
        // passwords
        "pw", "pwd", "pass", "passwd", "password", "passphrase", "passcode", "pin", "otp",
        // tokens and keys
        "auth", "authorization", "proxyauthorization", "authtoken", "bearer", "token", "jwt", "key", "apikey",
        "accesstoken", "idtoken", "refreshtoken", "accesskey", "secretkey", "privatekey", "clientsecret", "secret",
        "credential", "credentials", "code", "ticket",
        // signed URLs: AWS (X-Amz-*), Google (X-Goog-*), Azure SAS (sig), generic
        "sig", "signature", "xamzsignature", "xamzcredential", "xamzsecuritytoken", "xgoogsignature",
        "xgoogcredential", "hmac", "hash",
        // sessions and cookies
        "session", "sessionid", "sid", "cookie", "setcookie",
    ]

    /// Endings that make any name a credential: `csrf_token`, `X-Auth-Token`, `client_secret`,
    /// `db_password`, `X-Api-Key`, `PHPSESSID`.
    public static let credentialEndings = ["token", "secret", "password", "passwd", "signature", "credential", "apikey",
                                           "accesskey", "secretkey", "privatekey", "sessionid", "sessid"]

    /// Whether values named `name` are hidden.
    public func hides(_ name: some StringProtocol) -> Bool {
        guard !showSecrets else { return false }
        let key = Self.normalised(name)
        return Self.credentialNames.contains(key) || addedNames.contains(key)
            || Self.credentialEndings.contains { key.hasSuffix($0) }
    }

    /// An evidence value as printed: `REDACTED` when the rules list its fact as user text
    /// (`redact_evidence` in Rules/default.yaml). An empty text hides nothing, and `REDACTED`
    /// would say there was something.
    public func evidence(_ item: ConnectionDiagnosis.Evidence) -> FactValue {
        guard item.redacted, !showSecrets, item.value != .string("") else { return item.value }
        return .string(Self.placeholder)
    }

    /// A request target with credential query values and URL passwords replaced.
    public func target(_ target: String) -> String {
        guard !showSecrets else { return target }
        let (beforeQuery, query) = Self.split(target)
        let path = Self.withoutUserPassword(beforeQuery)
        guard let query else { return path }
        let parts = query.split(separator: "&", omittingEmptySubsequences: false).map { part -> String in
            guard let equals = part.firstIndex(of: "=") else {
                return Self.looksLikeJSONWebToken(part) ? Self.placeholder : String(part)
            }
            let name = part[..<equals]
            let value = part[part.index(after: equals)...]
            return hides(Self.percentDecoded(name)) || Self.looksLikeJSONWebToken(value) ? "\(name)=\(Self.placeholder)" : String(part)
        }
        return path + "?" + parts.joined(separator: "&")
    }

    /// A header value, replaced when the header carries credentials.
    public func header(name: String, value: String) -> String {
        guard !showSecrets else { return value }
        if Self.normalised(name) == "secwebsocketprotocol" { return subprotocols(value) }
        guard hides(name) || Self.looksLikeJSONWebToken(value) else { return value }
        // Keep the scheme ("Bearer") so the reader knows what kind of credential it was.
        if let space = value.firstIndex(of: " "), Self.normalised(name).hasSuffix("authorization") {
            return value[..<space] + " " + Self.placeholder
        }
        return Self.placeholder
    }

    /// A `Sec-WebSocket-Protocol` list with the tokens that look like credentials replaced: a
    /// JWT, a long opaque token, a token after a credential name (`access_token, eyJ…`), and
    /// the token part of Kubernetes' `base64url.bearer.authorization.k8s.io.TOKEN`.
    public func subprotocols(_ value: String) -> String {
        guard !showSecrets else { return value }
        var previousNamesACredential = false
        let items = value.split(separator: ",", omittingEmptySubsequences: false).map { item -> String in
            let leading = item.prefix { $0 == " " || $0 == "\t" }
            let token = item.dropFirst(leading.count).trimmingTrailingSpaces()
            defer { previousNamesACredential = hides(token) }
            if let dot = Self.bearerPrefixEnd(token) { return leading + token[..<dot] + Self.placeholder }
            if previousNamesACredential || Self.looksLikeJSONWebToken(token) || Self.looksLikeOpaqueToken(token) {
                return leading + Self.placeholder
            }
            return String(item)
        }
        return items.joined(separator: ",")
    }

    // MARK: Recognising names and values

    static func normalised(_ name: some StringProtocol) -> String {
        String(name.lowercased().unicodeScalars.filter { $0 != "-" && $0 != "_" && $0 != "." && $0 != " " })
    }

    /// Three base64url parts, the first an encoded JSON object (`eyJ`): a JWT.
    static func looksLikeJSONWebToken(_ value: some StringProtocol) -> Bool {
        let whole = Substring(value)
        let text = whole.hasPrefix("Bearer ") ? whole.dropFirst(7) : whole
        guard text.hasPrefix("eyJ") else { return false }
        return text.split(separator: ".", omittingEmptySubsequences: false).count == 3
    }

    /// 32 or more base64/hex characters mixing letters and digits, as API keys and opaque
    /// bearer tokens are; subprotocol names (`graphql-transport-ws`, `v12.stomp`) are not.
    static func looksLikeOpaqueToken(_ value: some StringProtocol) -> Bool {
        guard value.utf8.count >= 32 else { return false }
        var letters = false, digits = false
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"): letters = true
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digits = true
            case UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "+"), UInt8(ascii: "/"), UInt8(ascii: "="), UInt8(ascii: "."): break
            default: return false
            }
        }
        return letters && digits
    }

    /// Where the token starts in `base64url.bearer.authorization.k8s.io.TOKEN` and its kin.
    static func bearerPrefixEnd(_ token: Substring) -> Substring.Index? {
        let marker = Array(".bearer.authorization.k8s.io.".utf8)
        let bytes = Array(token.utf8).map { $0 | (($0 >= 0x41 && $0 <= 0x5A) ? 0x20 : 0) }
        guard bytes.count > marker.count, let start = bytes.firstRange(of: marker)?.lowerBound else { return nil }
        return token.utf8.index(token.utf8.startIndex, offsetBy: start + marker.count)
    }

    /// The part before `?` and the query after it, if any.
    private static func split(_ target: String) -> (String, String?) {
        guard let question = target.firstIndex(of: "?") else { return (target, nil) }
        return (String(target[..<question]), String(target[target.index(after: question)...]))
    }

    /// `ws://user:secret@host/path` → `ws://user:REDACTED@host/path` (absolute targets only).
    private static func withoutUserPassword(_ text: String) -> String {
        guard let scheme = text.range(of: "://") else { return text }
        let authorityEnd = text[scheme.upperBound...].firstIndex(of: "/") ?? text.endIndex
        let authority = text[scheme.upperBound..<authorityEnd]
        guard let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") else { return text }
        return text[..<authority.index(after: colon)] + placeholder + text[at...]
    }

    /// `%5F` → `_` and `+` → space, so an encoded name is recognised; bad escapes stay as they are.
    static func percentDecoded(_ text: Substring) -> String {
        guard text.contains("%") || text.contains("+") else { return String(text) }
        var bytes: [UInt8] = []
        var utf8 = text.utf8[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2,
               let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension Substring {
    fileprivate func trimmingTrailingSpaces() -> Substring {
        var end = endIndex
        while end > startIndex, self[index(before: end)] == " " || self[index(before: end)] == "\t" { end = index(before: end) }
        return self[..<end]
    }
}
