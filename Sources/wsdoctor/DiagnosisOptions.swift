import ArgumentParser
import Diagnosis
import Reporting

/// The options every diagnosing command (replay, sniff, proxy) shares, declared once.
struct DiagnosisOptions: ParsableArguments {
    @OptionGroup var ruleFileOptions: RulesFileOptions

    @Flag(help: "List every frame of each connection (text format; the proxy shows them live, as they pass).")
    var frames = false

    @Flag(help: "Print credentials (Authorization, Cookie, token query parameters) instead of redacting them.")
    var showSecrets = false

    @Option(name: .customLong("redact"), help: "Also redact this query parameter or header (case and -_. ignored). Repeatable.")
    var redactNames: [String] = []

    @Option(help: "Largest inflated size, in bytes, of one permessage-deflate message before inflation stops (zip-bomb guard).")
    var maxInflatedSize: Int64 = 64 * 1024 * 1024

    func validate() throws {
        if maxInflatedSize <= 0 { throw ValidationError("--max-inflated-size must be a positive number of bytes") }
    }

    /// The rules in effect; a file with an error ends the command with its one-line message.
    func rules() throws -> RuleSet {
        try ruleFileOptions.rules()
    }

    /// What output hides. `WSDOCTOR_REDACT` also counts for replay, which reads no other variable.
    var redaction: Redaction {
        Redaction(showSecrets: showSecrets, alsoRedact: redactNames.isEmpty ? CommandEnvironment.redactNames : redactNames)
    }

    /// The analyzer's settings; frames are kept only when they will be shown.
    func analyzerConfiguration(format: Replay.OutputFormat) -> AnalyzerConfiguration {
        var configuration = AnalyzerConfiguration()
        configuration.decoder.maxInflatedMessageSize = maxInflatedSize
        configuration.recordTimeline = frames && format == .text
        return configuration
    }
}
