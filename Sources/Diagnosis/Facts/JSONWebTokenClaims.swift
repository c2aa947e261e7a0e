import Foundation
import WebSocketWire

/// The time claims of a JSON Web Token found in an opening handshake.
///
/// Only the payload is decoded, to learn when the credential expires; the token is never
/// verified, kept or printed.
public struct JSONWebTokenClaims: Sendable, Hashable {
    /// Where the token was carried.
    public enum Source: String, Sendable, Hashable {
        case authorization, query, subprotocol, cookie
    }

    public var source: Source
    /// `exp`, `iat` and `nbf` as timestamps, when present.
    public var expires: Timestamp?
    public var issued: Timestamp?
    public var notBefore: Timestamp?

    /// The first JWT in the request: Authorization, then the query string, then subprotocols, then cookies.
    public static func find(in handshake: HandshakeFacts) -> JSONWebTokenClaims? {
        let headers = handshake.requestHeaders
        if let authorization = headers["Authorization"] {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer", let claims = decode(String(parts[1]), source: .authorization) {
                return claims
            }
        }
        if let query = handshake.target.split(separator: "?", maxSplits: 1).dropFirst().first {
            for pair in query.split(separator: "&") {
                guard let equals = pair.firstIndex(of: "=") else { continue }
                let value = String(pair[pair.index(after: equals)...]).removingPercentEncoding ?? String(pair[pair.index(after: equals)...])
                if let claims = decode(value, source: .query) { return claims }
            }
        }
        for value in headers.values("Sec-WebSocket-Protocol") {
            if let claims = decode(value, source: .subprotocol) { return claims }
        }
        for cookieHeader in headers.values("Cookie") {
            for cookie in cookieHeader.split(separator: ";") {
                guard let equals = cookie.firstIndex(of: "=") else { continue }
                if let claims = decode(String(cookie[cookie.index(after: equals)...]).trimmingCharacters(in: .whitespaces), source: .cookie) {
                    return claims
                }
            }
        }
        return nil
    }

    /// Decodes `token` if it is a JWT (three base64url parts, a JSON header with `alg`).
    static func decode(_ token: String, source: Source) -> JSONWebTokenClaims? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count >= 4, token.count < 16 * 1024,
              let header = jsonObject(String(parts[0])), header["alg"] != nil,
              let payload = jsonObject(String(parts[1])) else { return nil }
        return JSONWebTokenClaims(source: source, expires: time(payload["exp"]), issued: time(payload["iat"]), notBefore: time(payload["nbf"]))
    }

    private static func jsonObject(_ base64URL: String) -> [String: Any]? {
        var base64 = base64URL.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    private static func time(_ value: Any?) -> Timestamp? {
        guard let seconds = (value as? NSNumber)?.doubleValue, seconds.isFinite, abs(seconds) < 1e11 else { return nil }
        return Timestamp(nanoseconds: Int64(seconds * 1e9))
    }
}
