import WebSocketWire
import Yams

/// Reads faults from YAML (a file with a `faults:` list) or JSON (the control API: one fault,
/// or the same `faults:` list); JSON is read as YAML, so both share one schema and one check.
public enum FaultParser {
    /// The most faults a file or the control API may hold: each is checked on every new connection.
    public static let maxFaults = 256

    /// Parses a faults file: a mapping with a `faults:` list.
    public static func parseFile(_ text: String, file: String) throws(FaultsError) -> [Fault] {
        let root = try compose(text, file: file)
        guard case .mapping(let mapping)? = root, let list = mapping["faults"] else {
            throw FaultsError(file: file, line: root?.mark?.line ?? 1, message: "a faults file is a mapping with a `faults:` list; see the README's fault injection section")
        }
        for (key, _) in mapping where key.string != "faults" {
            throw FaultsError(file: file, line: line(key), message: "unknown key `\(key.string ?? "?")`; a faults file has only `faults:`")
        }
        guard case .sequence(let items) = list else {
            throw FaultsError(file: file, line: line(list), message: "`faults:` must be a list of faults")
        }
        return try parseList(Array(items), file: file)
    }

    /// Parses one fault (a mapping) or a `faults:` list, as the control API receives them.
    public static func parseRequest(_ text: String, file: String = "request") throws(FaultsError) -> [Fault] {
        let root = try compose(text, file: file)
        guard case .mapping(let mapping)? = root else {
            throw FaultsError(file: file, line: 1, message: "expected a JSON object: one fault, or {\"faults\": [...]}")
        }
        if mapping["faults"] != nil { return try parseFile(text, file: file) }
        return [try parseFault(root!, file: file)]
    }

    private static func compose(_ text: String, file: String) throws(FaultsError) -> Node? {
        do {
            return try Yams.compose(yaml: text)
        } catch let error as YamlError {
            switch error {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
                throw FaultsError(file: file, line: mark.line, message: "YAML syntax: \(problem)")
            default:
                throw FaultsError(file: file, line: 1, message: "cannot read YAML: \(error)")
            }
        } catch {
            throw FaultsError(file: file, line: 1, message: "cannot read YAML: \(error)")
        }
    }

    private static func parseList(_ items: [Node], file: String) throws(FaultsError) -> [Fault] {
        if items.count > maxFaults {
            throw FaultsError(file: file, line: line(items[maxFaults]), message: "more than \(maxFaults) faults")
        }
        var faults: [Fault] = []
        var firstLine: [String: Int] = [:]
        for item in items {
            let fault = try parseFault(item, file: file)
            if let earlier = firstLine[fault.id] {
                throw FaultsError(file: file, line: line(item), message: "duplicate fault id `\(fault.id)` (first on line \(earlier))")
            }
            firstLine[fault.id] = line(item)
            faults.append(fault)
        }
        return faults
    }

    static func line(_ node: Node) -> Int { node.mark?.line ?? 1 }

    /// Keys every fault may have, whatever its action.
    private static let commonKeys: Set<String> = ["id", "action", "match", "after_messages", "after_seconds", "count"]

    /// Parameters each action takes, required and optional.
    private static let parameters: [String: (required: [String], optional: [String])] = [
        "close": (["code"], ["reason", "toward"]),
        "refuse": (["status"], ["retry_after"]),
        "drop-pings": (["toward"], []),
        "drop-pongs": (["toward"], []),
        "stall": (["toward"], ["seconds"]),
        "corrupt-utf8": (["toward"], []),
        "set-rsv1": (["toward"], []),
        "strip-extensions": ([], []),
        "reset": ([], []),
        "latency": (["toward", "ms"], []),
    ]

    private static func parseFault(_ node: Node, file: String) throws(FaultsError) -> Fault {
        var fields = FaultFields(node: node, file: file)
        guard case .mapping(let mapping) = node else {
            throw fields.error(at: node, "a fault is a mapping with `id`, `action` and its parameters")
        }
        for (key, value) in mapping {
            guard let name = key.string else { throw fields.error(at: key, "keys must be plain names") }
            fields.values[name] = (key, value)
        }
        let id = try fields.requiredString("id")
        guard !id.isEmpty, id.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }), id.count <= 64 else {
            throw fields.error(at: fields.values["id"]?.value, "`id` `\(id)` must be 1 to 64 letters, digits, `-`, `_` or `.`")
        }
        let actionName = try fields.requiredString("action")
        guard let allowed = parameters[actionName] else {
            throw fields.error(at: fields.values["action"]?.value, "unknown action `\(actionName)`; known: \(FaultAction.names.joined(separator: ", "))")
        }
        for (name, entry) in fields.values where !commonKeys.contains(name) && !allowed.required.contains(name) && !allowed.optional.contains(name) {
            let takes = allowed.required + allowed.optional
            throw fields.error(at: entry.key, "`\(name)` is not a parameter of `\(actionName)`"
                               + (takes.isEmpty ? " (it takes none)" : " (it takes \(takes.map { "`\($0)`" }.joined(separator: ", ")))"))
        }
        for name in allowed.required where fields.values[name] == nil {
            throw fields.error(at: node, "`\(actionName)` needs `\(name)`")
        }
        let action = try parseAction(actionName, &fields)
        let match = try parseMatch(&fields)
        let trigger = try parseTrigger(&fields, action: action)
        var count: Int?
        if fields.values["count"] != nil {
            count = try fields.int("count", in: 1...1_000_000_000)
        }
        return Fault(id: id, action: action, match: match, trigger: trigger, count: count)
    }

    private static func parseAction(_ name: String, _ fields: inout FaultFields) throws(FaultsError) -> FaultAction {
        switch name {
        case "close":
            let code = try fields.int("code", in: 1000...4999)
            guard CloseCode.isAllowedOnWire(UInt16(code)) else {
                throw fields.error(at: fields.values["code"]?.value,
                                   "close code \(code) may not be sent in a close frame (RFC 6455 §7.4: 1000–1003, 1007–1014 or 3000–4999)")
            }
            let reason = try fields.optionalString("reason") ?? ""
            guard reason.utf8.count <= 123 else {
                throw fields.error(at: fields.values["reason"]?.value, "`reason` is \(reason.utf8.count) bytes of UTF-8; a close frame holds at most 123")
            }
            return .close(code: UInt16(code), reason: reason, toward: try fields.toward(default: .client))
        case "refuse":
            let status = try fields.int("status", in: 400...599)
            var retryAfter: Int?
            if fields.values["retry_after"] != nil {
                guard status == 429 || status == 503 else {
                    throw fields.error(at: fields.values["retry_after"]?.key, "`retry_after` goes with status 429 or 503 (got \(status))")
                }
                retryAfter = try fields.int("retry_after", in: 0...86_400)
            }
            return .refuse(status: status, retryAfter: retryAfter)
        case "drop-pings": return .dropPings(toward: try fields.toward(default: nil))
        case "drop-pongs": return .dropPongs(toward: try fields.toward(default: nil))
        case "stall":
            let toward = try fields.toward(default: nil)
            let seconds = fields.values["seconds"] == nil ? nil : try fields.seconds("seconds")
            return .stall(toward: toward, seconds: seconds)
        case "corrupt-utf8": return .corruptUTF8(toward: try fields.toward(default: nil))
        case "set-rsv1": return .setRSV1(toward: try fields.toward(default: nil))
        case "strip-extensions": return .stripExtensions
        case "reset": return .reset
        default:
            return .latency(toward: try fields.toward(default: nil), milliseconds: try fields.int("ms", in: 1...60_000))
        }
    }

    private static func parseMatch(_ fields: inout FaultFields) throws(FaultsError) -> FaultMatch {
        guard let entry = fields.values["match"] else { return FaultMatch() }
        guard case .mapping(let mapping) = entry.value else {
            throw fields.error(at: entry.value, "`match` is a mapping, e.g. `match: {path: /chat}` or `{path: \"/api/*\"}`")
        }
        var match = FaultMatch()
        for (key, value) in mapping {
            guard key.string == "path" else {
                throw fields.error(at: key, "`match` knows only `path` (got `\(key.string ?? "?")`)")
            }
            guard let path = value.string, path.hasPrefix("/") else {
                throw fields.error(at: value, "`match.path` must start with `/` (an exact path, or a prefix ending in `*`)")
            }
            let body = path.hasSuffix("*") ? String(path.dropLast()) : path
            guard !body.contains("*"), !body.contains("?"), !body.contains(where: \.isWhitespace) else {
                throw fields.error(at: value, "`match.path` `\(path)`: `*` only at the end, no query, no spaces")
            }
            match.path = path.hasSuffix("*") ? .prefix(body) : .exact(body)
        }
        return match
    }

    private static func parseTrigger(_ fields: inout FaultFields, action: FaultAction) throws(FaultsError) -> FaultTrigger {
        let messages = fields.values["after_messages"], seconds = fields.values["after_seconds"]
        if messages != nil && seconds != nil {
            throw fields.error(at: seconds?.key, "give `after_messages` or `after_seconds`, not both")
        }
        if action.actsOnUpgradeOnly, let given = messages ?? seconds {
            throw fields.error(at: given.key, "`\(action.name)` acts on the upgrade itself; `\(given.key.string ?? "")` does not apply")
        }
        if messages != nil { return .afterMessages(try fields.int("after_messages", in: 1...1_000_000_000)) }
        if seconds != nil { return .afterSeconds(try fields.seconds("after_seconds")) }
        return .upgrade
    }
}

/// The keys of one fault being read, and how to read each.
private struct FaultFields {
    let node: Node
    let file: String
    var values: [String: (key: Node, value: Node)] = [:]

    init(node: Node, file: String) {
        self.node = node
        self.file = file
    }

    func error(at node: Node?, _ message: String) -> FaultsError {
        FaultsError(file: file, line: node.map(FaultParser.line) ?? FaultParser.line(self.node), message: message)
    }

    func requiredString(_ name: String) throws(FaultsError) -> String {
        guard values[name] != nil else { throw error(at: node, "a fault needs `\(name)`") }
        return try optionalString(name)!
    }

    func optionalString(_ name: String) throws(FaultsError) -> String? {
        guard let entry = values[name] else { return nil }
        guard case .scalar(let scalar) = entry.value else { throw error(at: entry.value, "`\(name)` must be a string") }
        return scalar.string
    }

    func int(_ name: String, in range: ClosedRange<Int>) throws(FaultsError) -> Int {
        let entry = values[name]!
        guard let text = entry.value.string, let value = Int(text) else {
            throw error(at: entry.value, "`\(name)` must be a whole number")
        }
        guard range.contains(value) else {
            throw error(at: entry.value, "`\(name)` must be from \(range.lowerBound) to \(range.upperBound) (got \(value))")
        }
        return value
    }

    func seconds(_ name: String) throws(FaultsError) -> Double {
        let entry = values[name]!
        guard let text = entry.value.string, let value = Double(text), value.isFinite, value > 0, value <= 86_400 else {
            throw error(at: entry.value, "`\(name)` must be a number of seconds above 0 (at most 86400)")
        }
        return value
    }

    func toward(default fallback: FaultAction.Toward?) throws(FaultsError) -> FaultAction.Toward {
        guard let entry = values["toward"] else {
            guard let fallback else { throw error(at: node, "`toward` is needed: client, server or both") }
            return fallback
        }
        guard let text = entry.value.string, let toward = FaultAction.Toward(rawValue: text) else {
            throw error(at: entry.value, "`toward` must be client, server or both (got `\(entry.value.string ?? "?")`)")
        }
        return toward
    }
}
