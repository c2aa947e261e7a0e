/// The link-layer types (`pcap_datalink` values) the decoder understands.
public enum LinkType {
    /// BSD loopback: 4-byte address family in the capturing host's byte order.
    public static let null: Int32 = 0
    /// Ethernet, with any number of 802.1Q / 802.1ad tags.
    public static let ethernet: Int32 = 1
    /// Raw IP (DLT_RAW on most systems).
    public static let raw: Int32 = 12
    /// Raw IP as OpenBSD numbers DLT_RAW.
    public static let rawOpenBSD: Int32 = 14
    /// LINKTYPE_RAW as written in files; libpcap usually maps it to 12.
    public static let linktypeRaw: Int32 = 101
    /// OpenBSD loopback: 4-byte address family in network byte order.
    public static let loop: Int32 = 108
    /// Linux cooked capture v1 (`any` interface).
    public static let linuxSLL: Int32 = 113
    /// Raw IPv4.
    public static let ipv4: Int32 = 228
    /// Raw IPv6.
    public static let ipv6: Int32 = 229
    /// Linux cooked capture v2.
    public static let linuxSLL2: Int32 = 276

    /// Whether ``PacketDecoder`` can decode packets of this link type.
    public static func isSupported(_ linkType: Int32) -> Bool {
        switch linkType {
        case null, ethernet, raw, rawOpenBSD, linktypeRaw, loop, linuxSLL, ipv4, ipv6, linuxSLL2: return true
        default: return false
        }
    }
}
