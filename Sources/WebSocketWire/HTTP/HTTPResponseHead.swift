/// The status line and headers of an HTTP/1.x response.
public struct HTTPResponseHead: Sendable, Hashable {
    /// The version as sent, e.g. "HTTP/1.1".
    public var version: String
    /// The three-digit status code.
    public var status: Int
    /// The reason phrase as sent; may be empty.
    public var reason: String
    /// The header lines in order.
    public var headers: HTTPHeaders

    public init(version: String = "HTTP/1.1", status: Int, reason: String = "", headers: HTTPHeaders = HTTPHeaders()) {
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers
    }
}
