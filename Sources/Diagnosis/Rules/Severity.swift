/// How bad a diagnosis is, for reporters that colour or rank connections (the HTML report).
///
/// A rule may name it (`severity:`); otherwise its category's entry in `categories:`
/// (Rules/categories.yaml) decides, so Swift never decides what a category means.
public enum Severity: String, Sendable, Hashable, CaseIterable, Comparable {
    /// The connection ended as it should.
    case ok
    /// Worth knowing, not a fault (a capture that ended first, a deliberate restart).
    case info
    case warning
    case error

    /// A category listed nowhere: most rules describe a problem.
    public static let unlisted = Severity.warning

    public static func < (lhs: Severity, rhs: Severity) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}
