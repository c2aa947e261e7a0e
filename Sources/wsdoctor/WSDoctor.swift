import ArgumentParser
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

@main
struct WSDoctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wsdoctor",
        abstract: "Tells you why a WebSocket connection closed.",
        discussion: """
            Decodes every frame of every WebSocket connection in both directions, checks it \
            against RFC 6455 and RFC 7692, and reports how each connection ended.
            """,
        version: "0.1.0",
        subcommands: [Replay.self, Compare.self, Proxy.self, Sniff.self, Explain.self, Rules.self]
    )

    /// Adds the `WSDOCTOR_*` variables to the arguments of `wsdoctor proxy` and `wsdoctor sniff` before parsing.
    static func main() {
        var arguments = Array(CommandLine.arguments.dropFirst())
        guard let command = arguments.first, let variables = CommandEnvironment.variables(for: command) else { return main(arguments) }
        var sources: [String: String] = [:]
        do {
            let merged = try CommandEnvironment.merge(Array(arguments.dropFirst()), environment: CommandEnvironment.current,
                                                      variables: variables)
            arguments = [command] + merged.arguments
            sources = merged.sources
        } catch {
            printError("wsdoctor: \(error)")
            Glibc.exit(2)
        }
        // A sidecar's misconfiguration is one line naming the flag (and its variable), exit 2.
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .success || error is ExitCode { exit(withError: error) }
            var message = message(for: error)
            for (flag, variable) in sources where message.contains(flag) {
                message = message.replacingFirst(flag, with: "\(flag) (\(variable))")
            }
            printError("wsdoctor: \(message)")
            Glibc.exit(2)
        }
    }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        return replacingCharacters(in: range, with: replacement)
    }
}
