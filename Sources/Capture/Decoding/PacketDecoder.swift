/// What ``PacketDecoder`` made of one captured packet.
public enum DecodedPacket {
    /// A TCP segment; its payload may be shorter than declared (see ``TCPSegment/isTruncated``).
    case tcp(TCPSegment)
    /// Not TCP over IP (ARP, UDP, ICMP, 802.3 frames…).
    case notTCP
    /// The capture cut the packet inside a link, IP or TCP header.
    case truncated
    /// An IPv4 or IPv6 fragment; fragments are not reassembled.
    case fragment
    /// A header field is impossible (IPv4 header length under 20, TCP data offset under 20…).
    case malformed
    /// The link type is not one ``LinkType/isSupported(_:)`` accepts.
    case unsupportedLinkType
}

/// Decodes link layer, IPv4/IPv6 and TCP headers in place, without allocating.
///
/// IP fragments are skipped, not reassembled: a fragmented segment's length and
/// FIN position cannot be known from its first fragment, so the reassembler
/// sees a hole there and reports a gap instead of guessing.
public enum PacketDecoder {
    /// Decodes `bytes` (a packet of the given DLT `linkType`) down to TCP.
    public static func decode(linkType: Int32, bytes: UnsafeRawBufferPointer) -> DecodedPacket {
        switch linkType {
        case LinkType.ethernet:
            guard bytes.count >= 14 else { return .truncated }
            return decodeEtherType(bytes.u16(12), bytes.dropping(14))
        case LinkType.linuxSLL:
            guard bytes.count >= 16 else { return .truncated }
            return decodeEtherType(bytes.u16(14), bytes.dropping(16))
        case LinkType.linuxSLL2:
            guard bytes.count >= 20 else { return .truncated }
            return decodeEtherType(bytes.u16(0), bytes.dropping(20))
        case LinkType.raw, LinkType.rawOpenBSD, LinkType.linktypeRaw:
            guard bytes.count >= 1 else { return .truncated }
            switch bytes[0] >> 4 {
            case 4: return decodeIPv4(bytes)
            case 6: return decodeIPv6(bytes)
            default: return .notTCP
            }
        case LinkType.ipv4:
            return decodeIPv4(bytes)
        case LinkType.ipv6:
            return decodeIPv6(bytes)
        case LinkType.null, LinkType.loop:
            guard bytes.count >= 4 else { return .truncated }
            // The family is in the capturing host's byte order (DLT_NULL) or network order
            // (DLT_LOOP), and files travel between hosts: try both.
            let big = bytes.u32(0)
            let family = big < 0x10000 ? big : big.byteSwapped
            switch family {
            case 2: return decodeIPv4(bytes.dropping(4))
            case 24, 28, 30: return decodeIPv6(bytes.dropping(4))
            default: return .notTCP
            }
        default:
            return .unsupportedLinkType
        }
    }

    static func decodeEtherType(_ type: UInt16, _ bytes: UnsafeRawBufferPointer) -> DecodedPacket {
        var type = type
        var bytes = bytes
        // 802.1Q, 802.1ad and the old QinQ types: 2 bytes TCI, then the next type.
        while type == 0x8100 || type == 0x88A8 || type == 0x9100 || type == 0x9200 {
            guard bytes.count >= 4 else { return .truncated }
            type = bytes.u16(2)
            bytes = bytes.dropping(4)
        }
        switch type {
        case 0x0800: return decodeIPv4(bytes)
        case 0x86DD: return decodeIPv6(bytes)
        default: return .notTCP
        }
    }

    static func decodeIPv4(_ bytes: UnsafeRawBufferPointer) -> DecodedPacket {
        guard bytes.count >= 20 else { return .truncated }
        guard bytes[0] >> 4 == 4 else { return .malformed }
        let headerLength = Int(bytes[0] & 0x0f) * 4
        guard headerLength >= 20 else { return .malformed }
        guard bytes.count >= headerLength else { return .truncated }
        // Any fragment (MF set or offset non-zero) is skipped.
        guard bytes.u16(6) & 0x3fff == 0 else { return .fragment }
        guard bytes[9] == 6 else { return .notTCP }
        let totalLength = Int(bytes.u16(2))
        // Total length 0 appears in captures of TSO packets on the sending host.
        let end = totalLength == 0 ? bytes.count : totalLength
        guard end >= headerLength else { return .malformed }
        return decodeTCP(
            bytes, at: headerLength, end: end,
            source: IPAddress(ipv4: bytes.u32(12)), destination: IPAddress(ipv4: bytes.u32(16))
        )
    }

    static func decodeIPv6(_ bytes: UnsafeRawBufferPointer) -> DecodedPacket {
        guard bytes.count >= 40 else { return .truncated }
        guard bytes[0] >> 4 == 6 else { return .malformed }
        let payloadLength = Int(bytes.u16(4))
        // 0 means a jumbogram or a TSO capture: trust the captured length.
        let end = payloadLength == 0 ? bytes.count : 40 + payloadLength
        var next = bytes[6]
        var offset = 40
        while true {
            switch next {
            case 6:
                return decodeTCP(
                    bytes, at: offset, end: end,
                    source: IPAddress(ipv6High: bytes.u64(8), low: bytes.u64(16)),
                    destination: IPAddress(ipv6High: bytes.u64(24), low: bytes.u64(32))
                )
            case 0, 43, 60:  // hop-by-hop, routing, destination options
                guard bytes.count >= offset + 2 else { return .truncated }
                next = bytes[offset]
                offset += (Int(bytes[offset + 1]) + 1) * 8
            case 51:  // authentication header counts 4-byte units minus 2
                guard bytes.count >= offset + 2 else { return .truncated }
                next = bytes[offset]
                offset += (Int(bytes[offset + 1]) + 2) * 4
            case 44:
                return .fragment
            default:
                return .notTCP
            }
            guard offset <= end else { return .malformed }
        }
    }

    static func decodeTCP(
        _ bytes: UnsafeRawBufferPointer, at start: Int, end: Int,
        source: IPAddress, destination: IPAddress
    ) -> DecodedPacket {
        guard bytes.count >= start + 20 else { return .truncated }
        let headerLength = Int(bytes[start + 12] >> 4) * 4
        guard headerLength >= 20 else { return .malformed }
        guard bytes.count >= start + headerLength else { return .truncated }
        let payloadStart = start + headerLength
        guard end >= payloadStart else { return .malformed }
        // Ethernet pads short frames: stop at the IP length, not the captured length.
        let capturedEnd = Swift.min(end, bytes.count)
        let payload = UnsafeRawBufferPointer(rebasing: bytes[payloadStart..<capturedEnd])
        return .tcp(TCPSegment(
            source: source, destination: destination,
            sourcePort: bytes.u16(start), destinationPort: bytes.u16(start + 2),
            sequenceNumber: bytes.u32(start + 4), acknowledgmentNumber: bytes.u32(start + 8),
            flags: TCPFlags(rawValue: bytes[start + 13] & 0x3f),
            payload: payload, payloadLength: end - payloadStart
        ))
    }
}

extension UnsafeRawBufferPointer {
    func u16(_ offset: Int) -> UInt16 {
        UInt16(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    func u32(_ offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    func u64(_ offset: Int) -> UInt64 {
        UInt64(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    func dropping(_ count: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[count...])
    }
}
