import Capture

/// A copy of what ``PacketDecoder`` returned, safe to keep and compare.
enum DecodeOutcome: Equatable {
    struct Segment: Equatable {
        var source: String
        var destination: String
        var sequenceNumber: UInt32
        var acknowledgmentNumber: UInt32
        var flags: TCPFlags
        var payload: [UInt8]
        var payloadLength: Int
    }

    case tcp(Segment)
    case notTCP, truncated, fragment, malformed, unsupportedLinkType

    static func decode(_ linkType: Int32, _ bytes: [UInt8]) -> DecodeOutcome {
        bytes.withUnsafeBytes { raw in
            switch PacketDecoder.decode(linkType: linkType, bytes: raw) {
            case .tcp(let s):
                return .tcp(Segment(
                    source: s.sourceEndpoint.description, destination: s.destinationEndpoint.description,
                    sequenceNumber: s.sequenceNumber, acknowledgmentNumber: s.acknowledgmentNumber,
                    flags: s.flags, payload: Array(s.payload), payloadLength: s.payloadLength
                ))
            case .notTCP: return .notTCP
            case .truncated: return .truncated
            case .fragment: return .fragment
            case .malformed: return .malformed
            case .unsupportedLinkType: return .unsupportedLinkType
            }
        }
    }
}
