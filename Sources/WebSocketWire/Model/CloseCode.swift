/// Close status codes (RFC 6455 §7.4) and which of them may appear in a close frame.
///
/// This is the one place that knows which codes are allowed on the wire.
public enum CloseCode {
    /// The registered name of `code`, or a description of its range.
    public static func name(of code: UInt16) -> String {
        switch code {
        case 1000: return "Normal Closure"
        case 1001: return "Going Away"
        case 1002: return "Protocol Error"
        case 1003: return "Unsupported Data"
        case 1004: return "Reserved"
        case 1005: return "No Status Received"
        case 1006: return "Abnormal Closure"
        case 1007: return "Invalid Frame Payload Data"
        case 1008: return "Policy Violation"
        case 1009: return "Message Too Big"
        case 1010: return "Mandatory Extension"
        case 1011: return "Internal Error"
        case 1012: return "Service Restart"
        case 1013: return "Try Again Later"
        case 1014: return "Bad Gateway"
        case 1015: return "TLS Handshake"
        case 0..<1000: return "Not Used"
        case 1016..<3000: return "Unassigned"
        case 3000..<4000: return "Registered (library/framework)"
        case 4000..<5000: return "Private Use"
        default: return "Undefined"
        }
    }

    /// Whether an endpoint may send `code` in a close frame.
    ///
    /// 1005, 1006 and 1015 are reserved for reporting and must never be sent;
    /// 0–999 are unused; 1004 and 1016–2999 are unassigned; 5000 and above are undefined.
    public static func isAllowedOnWire(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1014: return true
        case 3000...4999: return true
        default: return false
        }
    }
}
