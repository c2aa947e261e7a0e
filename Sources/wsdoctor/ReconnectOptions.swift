import ArgumentParser
import Reconnects

/// How reconnects are followed (replay, sniff, proxy): the grouping key and the two bounds
/// that end an episode.
struct ReconnectOptions: ParsableArguments {
    @Option(name: .customLong("client-key"), help: "How connections are grouped into clients for reconnect episodes: address (the client's address without its port, the default) or header:NAME (e.g. header:X-Client-Id, header:User-Agent). The request path is always part of the key.")
    var clientKey: String = "address"

    @Option(name: .customLong("reconnect-settle"), help: "Seconds a reconnected client must stay connected to end its episode.")
    var settle: Double = 10

    @Option(name: .customLong("reconnect-give-up"), help: "Seconds without a new attempt after a failed one before the client counts as having given up.")
    var giveUp: Double = 120

    func validate() throws {
        do {
            _ = try ClientKey(argument: clientKey)
        } catch {
            throw ValidationError(error.message)
        }
        if !(settle > 0) || !settle.isFinite { throw ValidationError("--reconnect-settle must be a positive number of seconds") }
        if !(giveUp > 0) || !giveUp.isFinite { throw ValidationError("--reconnect-give-up must be a positive number of seconds") }
    }

    /// The key, checked by `validate()`.
    var key: ClientKey { (try? ClientKey(argument: clientKey)) ?? .address }

    var trackerConfiguration: ReconnectTracker.Configuration {
        var configuration = ReconnectTracker.Configuration()
        configuration.settle = settle
        configuration.giveUpAfter = giveUp
        return configuration
    }
}
