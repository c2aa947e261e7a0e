/// The verdict on one connection: which rule matched, what it says, and the facts behind it.
public struct ConnectionDiagnosis: Sendable, Hashable {
    public var id: String
    public var category: String
    public var summary: String
    public var explanation: String
    public var fix: String
    public var references: [String]
    /// The facts the matching rule named, with their values, in the order the rule names them.
    public var evidence: [Evidence]
    /// Where the rule came from (file and line).
    public var origin: RuleOrigin
    /// The rule's severity, or else its category's.
    public var severity: Severity = Severity.unlisted

    public struct Evidence: Sendable, Hashable {
        public var fact: String
        public var value: FactValue
        /// The rules list this fact as one whose value may carry user text (`redact_evidence`):
        /// reporters show it only with --show-secrets.
        public var redacted: Bool

        public init(fact: String, value: FactValue, redacted: Bool = false) {
            self.fact = fact
            self.value = value
            self.redacted = redacted
        }
    }
}
