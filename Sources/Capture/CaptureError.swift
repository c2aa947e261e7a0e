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
            case captureNotPermitted, noSuchInterface, interfaceFailed
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
        /// Capturing on an interface needs CAP_NET_RAW, which the process lacks.
        public static let captureNotPermitted = Reason(base: .captureNotPermitted)
        /// The interface to capture on does not exist.
        public static let noSuchInterface = Reason(base: .noSuchInterface)
        /// Capturing on an interface failed for another reason (down, unsupported, read error).
        public static let interfaceFailed = Reason(base: .interfaceFailed)

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
            case .captureNotPermitted: return "captureNotPermitted"
            case .noSuchInterface: return "noSuchInterface"
            case .interfaceFailed: return "interfaceFailed"
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
        case captureNotPermitted(detail: String)
        case noSuchInterface(available: [String])
        case interfaceFailed(detail: String)
    }

    private let kind: Kind
    /// The capture file (or, capturing live, the interface) the error is about.
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
        case .captureNotPermitted: return .captureNotPermitted
        case .noSuchInterface: return .noSuchInterface
        case .interfaceFailed: return .interfaceFailed
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
        case .captureNotPermitted(let detail):
            return "\(path): no permission to capture (libpcap: \(detail)); live capture needs CAP_NET_RAW: run as root, "
                + "grant it once with `sudo setcap cap_net_raw+ep \"$(command -v wsdoctor)\"`, or add NET_RAW to the container's capabilities"
        case .noSuchInterface(let available):
            let list = available.isEmpty ? "none visible" : available.joined(separator: ", ")
            return "\(path): no such network interface (interfaces here: \(list))"
        case .interfaceFailed(let detail):
            return "\(path): cannot capture on this interface (libpcap: \(detail))"
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
    static func captureNotPermitted(_ interface: String, detail: String) -> CaptureError {
        .init(.captureNotPermitted(detail: detail), path: interface)
    }
    static func noSuchInterface(_ interface: String, available: [String]) -> CaptureError {
        .init(.noSuchInterface(available: available), path: interface)
    }
    static func interfaceFailed(_ interface: String, detail: String) -> CaptureError { .init(.interfaceFailed(detail: detail), path: interface) }
}
