import ArgumentParser

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
        subcommands: [Replay.self, Proxy.self, Explain.self, Rules.self]
    )
}
