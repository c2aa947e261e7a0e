import Capture
import Testing

@Suite struct IPAddressTests {
    @Test func ipv4IsDotted() {
        #expect(IPAddress(ipv4: 0xC0A8_0001).description == "192.168.0.1")
        #expect(IPAddress(ipv4: 0).description == "0.0.0.0")
    }

    @Test func ipv6FollowsRFC5952() {
        #expect(IPAddress(ipv6High: 0, low: 1).description == "::1")
        #expect(IPAddress(ipv6High: 0, low: 0).description == "::")
        #expect(IPAddress(ipv6High: 0x2001_0db8_0000_0000, low: 0x0000_0000_0000_0001).description == "2001:db8::1")
        // A single zero group is not compressed; the longer run wins.
        #expect(IPAddress(ipv6High: 0x2001_0db8_0000_0001, low: 0x0000_0000_0000_0001).description == "2001:db8:0:1::1")
        // On a tie the first run is compressed.
        #expect(IPAddress(ipv6High: 0x2001_0000_0000_0001, low: 0x0001_0000_0000_0001).description == "2001::1:1:0:0:1")
        #expect(IPAddress(ipv6High: 0xfe80_0000_0000_0000, low: 0x0000_0000_0000_0000).description == "fe80::")
        #expect(IPAddress(ipv6High: 0, low: 0x0000_ffff_c0a8_0001).description == "::ffff:192.168.0.1")
    }

    @Test func familiesDoNotCollide() {
        #expect(IPAddress(ipv4: 1) != IPAddress(ipv6High: 0, low: 1))
        #expect(IPAddress(ipv4: 0xffff_ffff) < IPAddress(ipv6High: 0, low: 0))
    }
}
