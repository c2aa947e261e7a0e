/// Why a recording could not be created or written. The `description` is one line
/// naming the file and what is wrong.
public struct RecordingError: Error, CustomStringConvertible, Sendable {
    /// What kind of problem this is; compare against the static members.
    public struct Reason: Hashable, Sendable {
        fileprivate enum Base: Hashable, Sendable { case cannotOpen, writeFailed }
        fileprivate let base: Base

        /// The file could not be created (no such directory, permissions…).
        public static let cannotOpen = Reason(base: .cannotOpen)
        /// Writing failed (disk full, file removed…); packets may be missing.
        public static let writeFailed = Reason(base: .writeFailed)
    }

    public let reason: Reason
    /// The file.
    public let path: String
    private let detail: String

    public var description: String {
        switch reason.base {
        case .cannotOpen: return "\(path): cannot create capture file (libpcap: \(detail))"
        case .writeFailed: return "\(path): cannot write capture file (\(detail)); packets recorded since the last flush may be missing"
        }
    }

    static func cannotOpen(_ path: String, detail: String) -> RecordingError { .init(reason: .cannotOpen, path: path, detail: detail) }
    static func writeFailed(_ path: String, detail: String) -> RecordingError { .init(reason: .writeFailed, path: path, detail: detail) }
}
