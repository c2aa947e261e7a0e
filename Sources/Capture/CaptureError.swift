/// Why a capture file could not be read or written.
///
/// A struct wrapping a private enum so cases can be added without breaking
/// callers; compare `reason` against the static members of ``Reason``.
/// The `description` is one line naming the file and what is wrong.
public struct CaptureError: Error, CustomStringConvertible, Sendable {
    /// What kind of problem this is, for callers that react differently.
    public struct Reason: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Base: Hashable, Sendable {
            case missingFile, notACaptureFile, cannotOpen, truncatedCapture
            case unsupportedLinkType, badFilter, readFailed, writeFailed
        }
        fileprivate let base: Base

        /// The file does not exist.
        public static let missingFile = Reason(base: .missingFile)
        /// The file exists but is neither pcap nor pcapng.
        public static let notACaptureFile = Reason(base: .notACaptureFile)
        /// The file could not be opened for another reason (permissions, a directory…).
        public static let cannotOpen = Reason(base: .cannotOpen)
        /// The file ends in the middle of a packet; the packets before it were delivered.
        public static let truncatedCapture = Reason(base: .truncatedCapture)
        /// The capture's link layer is not one wsdoctor decodes.
        public static let unsupportedLinkType = Reason(base: .unsupportedLinkType)
        /// libpcap refused the BPF filter expression.
        public static let badFilter = Reason(base: .badFilter)
        /// libpcap failed while reading packets, for a reason other than truncation.
        public static let readFailed = Reason(base: .readFailed)
        /// Writing a recorded capture failed (disk full, file removed…); packets may be missing.
        public static let writeFailed = Reason(base: .writeFailed)

        public var description: String {
            switch base {
            case .missingFile: return "missingFile"
            case .notACaptureFile: return "notACaptureFile"
            case .cannotOpen: return "cannotOpen"
            case .truncatedCapture: return "truncatedCapture"
            case .unsupportedLinkType: return "unsupportedLinkType"
            case .badFilter: return "badFilter"
            case .readFailed: return "readFailed"
            case .writeFailed: return "writeFailed"
            }
        }
    }

    private enum Kind: Sendable {
        case missingFile
        case notACaptureFile(detail: String)
        case cannotOpen(detail: String)
        case truncatedCapture(packetsRead: Int, detail: String)
        case unsupportedLinkType(Int32, name: String?)
        case badFilter(filter: String, detail: String)
        case readFailed(packetsRead: Int, detail: String)
        case writeFailed(detail: String)
    }

    private let kind: Kind
    /// The capture file the error is about.
    public let path: String

    private init(_ kind: Kind, path: String) {
        self.kind = kind
        self.path = path
    }

    public var reason: Reason {
        switch kind {
        case .missingFile: return .missingFile
        case .notACaptureFile: return .notACaptureFile
        case .cannotOpen: return .cannotOpen
        case .truncatedCapture: return .truncatedCapture
        case .unsupportedLinkType: return .unsupportedLinkType
        case .badFilter: return .badFilter
        case .readFailed: return .readFailed
        case .writeFailed: return .writeFailed
        }
    }

    public var description: String {
        switch kind {
        case .missingFile:
            return "\(path): no such file"
        case .notACaptureFile(let detail):
            return "\(path): not a pcap or pcapng capture file (libpcap: \(detail))"
        case .cannotOpen(let detail):
            return "\(path): cannot open capture file (libpcap: \(detail))"
        case .truncatedCapture(let packetsRead, let detail):
            let read = packetsRead == 1 ? "1 complete packet before it was read" : "\(packetsRead) complete packets before it were read"
            return "\(path): truncated capture: the file ends inside packet \(packetsRead + 1); \(read) (libpcap: \(detail))"
        case .unsupportedLinkType(let linkType, let name):
            let named = name.map { " (\($0))" } ?? ""
            return "\(path): unsupported link type \(linkType)\(named); wsdoctor reads Ethernet, Linux cooked v1/v2, raw IP and BSD loopback captures"
        case .badFilter(let filter, let detail):
            return "\(path): bad capture filter '\(filter)': \(detail)"
        case .readFailed(let packetsRead, let detail):
            return "\(path): read failed after \(packetsRead) packets (libpcap: \(detail))"
        case .writeFailed(let detail):
            return "\(path): cannot write capture file (\(detail)); packets recorded since the last flush may be missing"
        }
    }

    static func missingFile(_ path: String) -> CaptureError { .init(.missingFile, path: path) }
    static func notACaptureFile(_ path: String, detail: String) -> CaptureError { .init(.notACaptureFile(detail: detail), path: path) }
    static func cannotOpen(_ path: String, detail: String) -> CaptureError { .init(.cannotOpen(detail: detail), path: path) }
    static func truncatedCapture(_ path: String, packetsRead: Int, detail: String) -> CaptureError {
        .init(.truncatedCapture(packetsRead: packetsRead, detail: detail), path: path)
    }
    static func unsupportedLinkType(_ path: String, linkType: Int32, name: String?) -> CaptureError {
        .init(.unsupportedLinkType(linkType, name: name), path: path)
    }
    static func badFilter(_ path: String, filter: String, detail: String) -> CaptureError {
        .init(.badFilter(filter: filter, detail: detail), path: path)
    }
    static func readFailed(_ path: String, packetsRead: Int, detail: String) -> CaptureError {
        .init(.readFailed(packetsRead: packetsRead, detail: detail), path: path)
    }
    static func writeFailed(_ path: String, detail: String) -> CaptureError { .init(.writeFailed(detail: detail), path: path) }
}
