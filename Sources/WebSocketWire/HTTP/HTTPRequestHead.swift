/// The request line and headers of an HTTP/1.x request.
public struct HTTPRequestHead: Sendable, Hashable {
    /// The method as sent; methods are case-sensitive.
    public var method: String
    /// The request-target exactly as sent (origin-form, absolute-form, …).
    public var target: String
    /// The version as sent, e.g. "HTTP/1.1".
    public var version: String
    /// The header lines in order.
    public var headers: HTTPHeaders

    public init(method: String, target: String, version: String = "HTTP/1.1", headers: HTTPHeaders = HTTPHeaders()) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
    }
}
