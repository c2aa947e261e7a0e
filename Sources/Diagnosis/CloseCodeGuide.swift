import WebSocketWire

/// What each close code means, when it is seen and what to do about it (`wsdoctor explain`).
public enum CloseCodeGuide {
    public struct Entry: Sendable {
        public var codes: ClosedRange<UInt16>
        public var name: String
        public var meaning: String
        public var seenWhen: String
        public var fix: String
    }

    /// The entry covering `code`.
    public static func entry(for code: UInt16) -> Entry? {
        entries.first { $0.codes.contains(code) }
    }

    public static let entries: [Entry] = [
        entry(1000, "The connection did what it was for and is closing normally.",
              "A client or server finishing its work; the other side echoes 1000.",
              "Nothing to fix."),
        entry(1001, "The endpoint is going away.",
              "A server shutting down or restarting without saying so; a browser leaving the page.",
              "Reconnect after a short delay when the server went away."),
        entry(1002, "The endpoint received data that breaks the WebSocket protocol.",
              "Malformed frame headers, wrong masking, reserved opcodes or bits, bad fragmentation — from a broken client, server or proxy.",
              "Find which side sent the bad frame (wsdoctor names it when it saw the frame); if every frame it saw was valid, inspect intermediaries."),
        entry(1003, "The endpoint cannot accept this type of data.",
              "Binary sent to an endpoint that accepts only text, or the reverse.",
              "Send the message type the endpoint documents."),
        entry(1004, "Reserved; never sent.", "Only in broken implementations.", "Do not send it."),
        entry(1005, "No status code was present in the close frame. Reported locally; never sent on the wire.",
              "The peer sent an empty close frame.", "Nothing is broken; send an explicit code if the reason matters."),
        entry(1006, "The connection closed without a close frame. Reported locally; never sent on the wire.",
              "A crash, a killed process, a network drop, an idle or keepalive timeout, a proxy closing TCP.",
              "Look at how TCP ended and at the idle time and pings before it (wsdoctor reports both)."),
        entry(1007, "A message's data was inconsistent with its type: a text message that is not UTF-8.",
              "Binary data or another encoding sent as text; or a proxy altering payloads.",
              "Send only UTF-8 in text messages and raw bytes as binary."),
        entry(1008, "The message broke a policy of the endpoint (the generic code when 1003 and 1009 do not fit).",
              "Rate limits, expired credentials, forbidden content, disallowed origins.",
              "Check the server's documented limits, rate limiting and token lifetime."),
        entry(1009, "The message is too big to process.",
              "A message over the endpoint's maximum size (after inflation with permessage-deflate).",
              "Split large payloads or raise the limit."),
        entry(1010, "The client expected the server to negotiate an extension it did not.",
              "A required extension stripped by a proxy or disabled on the server.",
              "Enable the extension on the server or make it optional on the client."),
        entry(1011, "The server met an unexpected condition (the WebSocket counterpart of HTTP 500).",
              "An unhandled exception while processing a message; some libraries also use it for keepalive timeouts.",
              "Look at the server's logs for the stack trace and add error handling around message processing."),
        entry(1012, "The service is restarting.",
              "A deploy or configuration reload.",
              "Reconnect automatically after a short delay, 1 to 5 seconds; it should succeed."),
        entry(1013, "The server is overloaded or throttling: try again later.",
              "Too many connections or too much load; unlike 1012 the server is not restarting.",
              "Reconnect with exponential backoff starting at 1 second, doubling each attempt; add capacity if it persists."),
        entry(1014, "A gateway or proxy received an invalid response from the upstream server.",
              "A WebSocket gateway whose backend failed.",
              "Look at the gateway's logs and the upstream's health."),
        entry(1015, "The TLS handshake failed. Reported locally; never sent on the wire.",
              "A certificate that cannot be verified, or no common cipher.",
              "Check the server's certificate chain and the client's trust store."),
        Entry(codes: 3000...3999, name: "Registered (library/framework)", meaning: "Codes registered with IANA by libraries and frameworks.",
              seenWhen: "Depends on the library that sent it.", fix: "Look the code up in the sending library's documentation."),
        Entry(codes: 4000...4999, name: "Private Use", meaning: "Codes private to an application.",
              seenWhen: "Application-specific: often authentication, authorization or session errors.", fix: "Look the code up in the application's documentation."),
    ]

    private static func entry(_ code: UInt16, _ meaning: String, _ seenWhen: String, _ fix: String) -> Entry {
        Entry(codes: code...code, name: CloseCode.name(of: code), meaning: meaning, seenWhen: seenWhen, fix: fix)
    }
}
