import FaultInjection
import Reporting

extension JSONWriter {
    /// A fault in the schema it is read in (the control API's listings).
    mutating func fault(_ fault: Fault, claimed: Int? = nil) {
        beginObject()
        string("id", fault.id)
        string("action", fault.action.name)
        switch fault.action {
        case .close(let code, let reason, let toward):
            number("code", code)
            string("reason", reason)
            string("toward", toward.rawValue)
        case .refuse(let status, let retryAfter):
            number("status", status)
            if let retryAfter { number("retry_after", retryAfter) }
        case .dropPings(let toward), .dropPongs(let toward), .corruptUTF8(let toward), .setRSV1(let toward):
            string("toward", toward.rawValue)
        case .stall(let toward, let seconds):
            string("toward", toward.rawValue)
            if let seconds { number("seconds", seconds) }
        case .latency(let toward, let milliseconds):
            string("toward", toward.rawValue)
            number("ms", milliseconds)
        case .stripExtensions, .reset:
            break
        }
        if fault.match.path != .any {
            beginObject("match")
            string("path", fault.match.written)
            endObject()
        }
        switch fault.trigger {
        case .upgrade: break
        case .afterMessages(let count): number("after_messages", count)
        case .afterSeconds(let seconds): number("after_seconds", seconds)
        }
        if let count = fault.count { number("count", count) }
        if let claimed { number("claimed", claimed) }
        endObject()
    }
}
