import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A blocking TCP client on 127.0.0.1 for the hardening tests: many of them quickly (floods),
/// or one that stops wherever a test wants (mid-head, mid-frame). Connecting, sending and
/// every read are bounded by a timeout; the socket is closed by `close()` or `reset()` (or when dropped).
final class RawTCPClient {
    private var descriptor: Int32
    /// The client's own port.
    let localPort: Int

    /// Connects to `127.0.0.1:port` with reads bounded by `readTimeout` seconds.
    init(port: Int, readTimeout: Double = stepTimeout) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ProxyTestError("socket(): \(String(cString: strerror(errno)))") }
        var timeout = timeval(tv_sec: Int(readTimeout), tv_usec: Int((readTimeout - readTimeout.rounded(.down)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        // On Linux this bounds connect() too (a listener that stopped accepting).
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw ProxyTestError("connect to 127.0.0.1:\(port): \(reason)")
        }
        var local = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        descriptor = fd
        localPort = Int(UInt16(bigEndian: local.sin_port))
    }

    deinit { if descriptor >= 0 { Glibc.close(descriptor) } }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw ProxyTestError("send: \(String(cString: strerror(errno)))") }
            offset += sent
        }
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// Reads until `marker` came (e.g. the end of an HTTP head), the peer ended, or the read
    /// timeout passed; what came.
    func read(until marker: String) -> [UInt8] {
        let wanted = Array(marker.utf8)
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while !received.containsSequence(wanted) {
            let got = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if got <= 0 { break }
            received += chunk[0..<got]
        }
        return received
    }

    /// Reads until the peer ends (FIN or reset) or the read timeout passes; what came, and
    /// whether the end was seen.
    func readToEnd() -> (bytes: [UInt8], ended: Bool) {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let got = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if got == 0 { return (received, true) }
            if got < 0 { return (received, errno == ECONNRESET) }
            received += chunk[0..<got]
        }
    }

    /// Closes with a reset (SO_LINGER 0) instead of a FIN.
    func reset() {
        var lingering = linger(l_onoff: 1, l_linger: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &lingering, socklen_t(MemoryLayout<linger>.size))
        close()
    }

    func close() {
        if descriptor >= 0 { Glibc.close(descriptor) }
        descriptor = -1
    }
}

/// TCP sockets on 127.0.0.1 whose remote port is `port` (IPv4, from /proc/net/tcp), by state
/// name: `ESTABLISHED`, `CLOSE_WAIT`, `TIME_WAIT`…
func socketStates(remotePort port: Int) -> [String: Int] {
    let names = ["01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1", "05": "FIN_WAIT2", "06": "TIME_WAIT",
                 "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING"]
    let table = (try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8)) ?? ""
    var counts: [String: Int] = [:]
    for line in table.split(separator: "\n").dropFirst() {
        let fields = line.split(separator: " ")
        guard fields.count > 3, let remote = fields[2].split(separator: ":").last, Int(remote, radix: 16) == port else { continue }
        counts[names[String(fields[3])] ?? String(fields[3]), default: 0] += 1
    }
    return counts
}

/// How many descriptors process `pid` has open.
func openDescriptors(_ pid: Int32) -> Int {
    ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).count
}

extension Array where Element == UInt8 {
    func containsSequence(_ wanted: [UInt8]) -> Bool {
        guard !wanted.isEmpty, count >= wanted.count else { return wanted.isEmpty }
        return (0...(count - wanted.count)).contains { start in self[start..<(start + wanted.count)].elementsEqual(wanted) }
    }
}

/// An upgrade request to `path` on 127.0.0.1, as a raw client sends it.
func rawUpgradeRequest(_ path: String) -> String {
    "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
}
