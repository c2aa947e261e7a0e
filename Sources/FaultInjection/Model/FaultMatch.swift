/// Which connections a fault applies to, by the upgrade request's path (query left out).
public struct FaultMatch: Sendable, Equatable {
    public enum Path: Sendable, Equatable {
        case any
        case exact(String)
        /// Written `/prefix/*` in a faults file.
        case prefix(String)
    }

    public var path: Path

    public init(path: Path = .any) {
        self.path = path
    }

    /// Whether a request target (path and query) matches.
    public func matches(target: String) -> Bool {
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? target
        switch self.path {
        case .any: return true
        case .exact(let wanted): return path == wanted
        case .prefix(let prefix): return path.hasPrefix(prefix)
        }
    }

    /// The match as a faults file writes it.
    public var written: String {
        switch path {
        case .any: return "*"
        case .exact(let path): return path
        case .prefix(let prefix): return prefix + "*"
        }
    }
}
