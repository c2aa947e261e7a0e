#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `WSDOCTOR_*` environment variables for every flag of `wsdoctor proxy` and `wsdoctor sniff`,
/// the commands a container runs.
///
/// A flag given on the command line wins over its variable. A variable the command has no
/// flag for is ignored, so one environment can serve both.
enum CommandEnvironment {
    typealias Variable = (name: String, flag: String, takesValue: Bool)

    /// The variables of `command`, or nil when it reads none.
    static func variables(for command: String?) -> [Variable]? {
        switch command {
        case "proxy": return proxy
        case "sniff": return sniff
        default: return nil
        }
    }

    /// Flags that may repeat: their variable takes a comma-separated list.
    private static let repeatable: Set<String> = ["--rules", "--ws-port", "--redact"]

    /// The variables of the options proxy and sniff share (`DiagnosisOptions`, the output
    /// format, the admin endpoint).
    private static let shared: [Variable] = [
        ("WSDOCTOR_FORMAT", "--format", true),
        ("WSDOCTOR_RULES", "--rules", true),
        ("WSDOCTOR_ADMIN", "--admin", true),
        ("WSDOCTOR_MAX_INFLATED_SIZE", "--max-inflated-size", true),
        ("WSDOCTOR_FRAMES", "--frames", false),
        ("WSDOCTOR_SHOW_SECRETS", "--show-secrets", false),
        ("WSDOCTOR_REDACT", "--redact", true),
    ]

    /// Variable, flag, and whether the flag takes a value.
    static let proxy: [Variable] = shared + [
        ("WSDOCTOR_LISTEN", "--listen", true),
        ("WSDOCTOR_UPSTREAM", "--upstream", true),
        ("WSDOCTOR_RECORD", "--record", true),
        ("WSDOCTOR_TLS_CERT", "--tls-cert", true),
        ("WSDOCTOR_TLS_KEY", "--tls-key", true),
        ("WSDOCTOR_UPSTREAM_CA", "--upstream-ca", true),
        ("WSDOCTOR_KEYLOG", "--keylog", true),
        ("WSDOCTOR_DRAIN_TIMEOUT", "--drain-timeout", true),
        ("WSDOCTOR_HEAD_TIMEOUT", "--head-timeout", true),
        ("WSDOCTOR_UPGRADE_TIMEOUT", "--upgrade-timeout", true),
        ("WSDOCTOR_MAX_CONNECTIONS", "--max-connections", true),
        ("WSDOCTOR_UPSTREAM_INSECURE", "--upstream-insecure", false),
        ("WSDOCTOR_REWRITE_HOST", "--rewrite-host", false),
    ]

    static let sniff: [Variable] = shared + [
        ("WSDOCTOR_INTERFACE", "--interface", true),
        ("WSDOCTOR_FILTER", "--filter", true),
        ("WSDOCTOR_WS_PORT", "--ws-port", true),
        ("WSDOCTOR_IDLE_EXPIRY", "--idle-expiry", true),
        ("WSDOCTOR_KERNEL_BUFFER", "--kernel-buffer", true),
        ("WSDOCTOR_DURATION", "--duration", true),
        ("WSDOCTOR_WRITE", "--write", true),
    ]

    /// `WSDOCTOR_REDACT`'s names, for `replay` (which takes no other variable).
    static var redactNames: [String] {
        current["WSDOCTOR_REDACT"].map { $0.split(separator: ",").map(String.init) } ?? []
    }

    struct Problem: Error, CustomStringConvertible {
        let description: String
    }

    /// `arguments` (after the command's name) with the flags set only in the environment
    /// appended, and which flags came from which variable.
    static func merge(_ arguments: [String], environment: [String: String],
                      variables: [Variable]) throws -> (arguments: [String], sources: [String: String]) {
        var merged = arguments
        var sources: [String: String] = [:]
        for variable in variables {
            guard let value = environment[variable.name] else { continue }
            let given = arguments.contains { $0 == variable.flag || $0.hasPrefix(variable.flag + "=") }
            if given { continue }
            sources[variable.flag] = variable.name
            if variable.takesValue {
                guard !value.isEmpty else { throw Problem(description: "\(variable.name) is set but empty; unset it or give \(variable.flag)'s value") }
                let values = repeatable.contains(variable.flag) ? value.split(separator: ",").map(String.init) : [value]
                for item in values { merged += [variable.flag, item] }
            } else {
                switch value.lowercased() {
                case "1", "true", "yes", "on": merged.append(variable.flag)
                case "0", "false", "no", "off", "": break
                default: throw Problem(description: "\(variable.name)=\(value): expected true or false")
                }
            }
        }
        return (merged, sources)
    }

    static var current: [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "="), text.hasPrefix("WSDOCTOR_") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }
}
