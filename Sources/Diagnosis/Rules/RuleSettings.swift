/// Values the rules files decide that are not rules themselves (`settings:` in a rules file).
///
/// The built-in values are in Rules/default.yaml; a later file's entry replaces an earlier one.
public struct RuleSettings: Sendable, Hashable {
    /// Seconds within which closes to one server with one code count as one wave
    /// (`close_correlation_window`).
    public var closeCorrelationWindow: Double
    /// Fact names whose values evidence shows as `REDACTED` unless --show-secrets
    /// (`redact_evidence`); `*` stands for any run of characters, as in `*.detail`.
    public var redactedEvidence: [String]

    /// The longest correlation window accepted: the correlator remembers every end within it.
    public static let maxCloseCorrelationWindow: Double = 3600

    public init(closeCorrelationWindow: Double, redactedEvidence: [String]) {
        self.closeCorrelationWindow = closeCorrelationWindow
        self.redactedEvidence = redactedEvidence
    }

    /// Whether evidence hides the value of fact `name`.
    public func redacts(fact name: String) -> Bool {
        redactedEvidence.contains { Self.glob($0, matches: name) }
    }

    /// `*` matches any run of characters (dots included); every other character itself.
    static func glob(_ pattern: String, matches name: String) -> Bool {
        let parts = pattern.split(separator: "*", omittingEmptySubsequences: false)
        guard parts.count > 1 else { return pattern == name }
        var rest = Substring(name)
        guard rest.hasPrefix(parts[0]) else { return false }
        rest = rest.dropFirst(parts[0].count)
        for part in parts.dropFirst().dropLast() where !part.isEmpty {
            guard let found = rest.range(of: part) else { return false }
            rest = rest[found.upperBound...]
        }
        return rest.hasSuffix(parts[parts.count - 1])
    }
}

/// The settings one rules file gives; nil where it leaves the earlier value.
struct RuleSettingsEntries: Sendable {
    var closeCorrelationWindow: Double?
    var redactedEvidence: [String]?

    func applied(to settings: RuleSettings) -> RuleSettings {
        RuleSettings(closeCorrelationWindow: closeCorrelationWindow ?? settings.closeCorrelationWindow,
                     redactedEvidence: redactedEvidence ?? settings.redactedEvidence)
    }
}
