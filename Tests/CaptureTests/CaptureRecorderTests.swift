import CPcap
import Capture
import CaptureAnalysis
import Diagnosis
import Foundation
import PcapRecording
import Testing
import WebSocketWire

/// Records synthetic proxied sessions with ``CaptureRecorder`` and reads the files back
/// through the same paths `wsdoctor replay` uses.
@Suite struct CaptureRecorderTests {
    // MARK: - Scripts

    /// One thing a side does, at a time in nanoseconds.
    enum Step {
        case data(Side, [UInt8])
        case fin(Side)
        case rst(Side)
    }

    struct Script {
        var id: Int
        var client: Endpoint
        var server: Endpoint
        var opened: Int64
        var steps: [(at: Int64, step: Step)] = []

        func bytes(from side: Side) -> [UInt8] {
            steps.flatMap { item -> [UInt8] in
                if case .data(side, let bytes) = item.step { return bytes }
                return []
            }
        }

        /// The ends a reader must report, in order, with their times.
        var ends: [CollectedEnd] {
            steps.compactMap { item in
                switch item.step {
                case .data: return nil
                case .fin(let side): return CollectedEnd(kind: "fin", side: side, at: item.at)
                case .rst(let side): return CollectedEnd(kind: "rst", side: side, at: item.at)
                }
            }
        }
    }

    static let base: Int64 = 1_700_000_000_123_456_789
    static let mask: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]

    static func frame(_ opcode: UInt8, _ payload: [UInt8], masked: Bool) -> [UInt8] {
        var out: [UInt8] = [0x80 | opcode]
        let maskBit: UInt8 = masked ? 0x80 : 0
        switch payload.count {
        case ..<126: out.append(maskBit | UInt8(payload.count))
        case ...0xFFFF: out += [maskBit | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        default:
            out.append(maskBit | 127)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: payload.count >> shift)) }
        }
        guard masked else { return out + payload }
        return out + mask + payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
    }

    static func client(_ opcode: UInt8, _ payload: [UInt8]) -> Step { .data(.client, frame(opcode, payload, masked: true)) }
    static func server(_ opcode: UInt8, _ payload: [UInt8]) -> Step { .data(.server, frame(opcode, payload, masked: false)) }
    static func text(_ string: String) -> [UInt8] { Array(string.utf8) }
    static func closePayload(_ code: UInt16, _ reason: String) -> [UInt8] { [UInt8(code >> 8), UInt8(code & 0xFF)] + text(reason) }

    static let upgradeRequest = text(
        "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    static let upgradeResponse = text(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")

    /// A whole WebSocket session: upgrade, 3 client messages and a ping, 2 server messages
    /// and a pong, a close handshake started by the client with `closeCode`, server FIN first.
    /// Steps are `spacing` ns apart, starting `spacing` after `opened`.
    static func webSocketSession(id: Int, client: Endpoint, server: Endpoint, opened: Int64,
                                 spacing: Int64 = 1_000_003, closeCode: UInt16 = 1000, extra: [Step] = []) -> Script {
        var steps: [Step] = [
            .data(.client, upgradeRequest),
            .data(.server, upgradeResponse),
            Self.client(0x1, text("hello \(id)")),
            Self.server(0x1, text("welcome \(id)")),
            Self.client(0x2, [1, 2, 3, 4, 5]),
            Self.client(0x9, text("ping")),
            Self.server(0xA, text("ping")),
            Self.server(0x1, text("news")),
            Self.client(0x1, text("thanks")),
        ]
        steps += extra
        steps += [
            Self.client(0x8, closePayload(closeCode, "bye")),
            Self.server(0x8, closePayload(closeCode, "bye")),
            .fin(.server),
            .fin(.client),
        ]
        var script = Script(id: id, client: client, server: server, opened: opened)
        script.steps = steps.enumerated().map { (opened + spacing * Int64($0.offset + 1), $0.element) }
        return script
    }

    static func v4(_ port: UInt16, server: UInt16 = 80) -> (Endpoint, Endpoint) {
        (Endpoint(address: "192.0.2.10", port: port), Endpoint(address: "198.51.100.20", port: server))
    }

    // MARK: - Recording and reading back

    static func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("wsdoctor-recorder-\(UUID().uuidString).pcap").path
    }

    /// Records `scripts` interleaved by time (ties keep script order) and closes the file.
    @discardableResult
    static func record(_ scripts: [Script], to path: String, recorder: CaptureRecorder? = nil) throws -> CaptureRecorder {
        let recorder = try recorder ?? CaptureRecorder(path: path)
        var events: [(at: Int64, order: Int, run: () -> Void)] = []
        for script in scripts {
            let id = script.id
            events.append((script.opened, events.count, {
                recorder.opened(connection: id, client: script.client, server: script.server, at: Timestamp(nanoseconds: script.opened))
            }))
            for (at, step) in script.steps {
                let time = Timestamp(nanoseconds: at)
                events.append((at, events.count, {
                    switch step {
                    case .data(let side, let bytes):
                        bytes.withUnsafeBytes { recorder.data(connection: id, from: side, bytes: $0, at: time) }
                    case .fin(let side): recorder.finished(connection: id, from: side, at: time)
                    case .rst(let side): recorder.reset(connection: id, from: side, at: time)
                    }
                }))
            }
        }
        for event in events.sorted(by: { ($0.at, $0.order) < ($1.at, $1.order) }) { event.run() }
        try recorder.close()
        return recorder
    }

    static func replay(_ path: String) -> (connections: [FinishedConnection], statistics: CaptureFileFeeder.Statistics, error: CaptureError?) {
        var finished: [FinishedConnection] = []
        let session = ReplaySession { finished.append($0) }
        let result = session.replay(file: path)
        return (finished, result.statistics, result.error)
    }

    struct CollectedEnd: Equatable, CustomStringConvertible {
        var kind: String
        var side: Side?
        var at: Int64
        var description: String { "\(kind)(\(side.map { "\($0)" } ?? "-")@\(at))" }
    }

    /// What a reader saw of one connection, bytes unmerged from their segments.
    final class CollectedConnection {
        var client: Endpoint
        var server: Endpoint
        var opened: Int64
        var sawSYN: Bool
        var bytes: [Side: [UInt8]] = [.client: [], .server: []]
        var chunkTimes: [Side: [Int64]] = [.client: [], .server: []]
        var ends: [CollectedEnd] = []
        var gaps = 0
        init(client: Endpoint, server: Endpoint, opened: Int64, sawSYN: Bool) {
            self.client = client
            self.server = server
            self.opened = opened
            self.sawSYN = sawSYN
        }
    }

    /// Collects the reassembled streams, to compare bytes exactly.
    final class StreamCollector: TCPStreamDelegate {
        var connections: [CollectedConnection] = []
        func connectionOpened(_ id: TCPConnectionID, client: Endpoint, server: Endpoint, at: Timestamp, sawSYN: Bool, sidesGuessed: Bool) {
            connections.append(CollectedConnection(client: client, server: server, opened: at.nanoseconds, sawSYN: sawSYN))
        }
        func received(_ id: TCPConnectionID, from side: Side, bytes: UnsafeRawBufferPointer, at: Timestamp) {
            connections[id.rawValue - 1].bytes[side]! += bytes
            connections[id.rawValue - 1].chunkTimes[side]!.append(at.nanoseconds)
        }
        func gap(_ id: TCPConnectionID, from: Side, missingBytes: Int64, at: Timestamp) { connections[id.rawValue - 1].gaps += 1 }
        func finished(_ id: TCPConnectionID, from side: Side, at: Timestamp) {
            connections[id.rawValue - 1].ends.append(CollectedEnd(kind: "fin", side: side, at: at.nanoseconds))
        }
        func reset(_ id: TCPConnectionID, from side: Side, at: Timestamp) {
            connections[id.rawValue - 1].ends.append(CollectedEnd(kind: "rst", side: side, at: at.nanoseconds))
        }
        func captureEnded(_ id: TCPConnectionID, at: Timestamp) {
            connections[id.rawValue - 1].ends.append(CollectedEnd(kind: "capture-end", side: nil, at: at.nanoseconds))
        }
    }

    static func streams(_ path: String) throws -> (connections: [CollectedConnection], statistics: CaptureFileFeeder.Statistics) {
        let collector = StreamCollector()
        let statistics = try CaptureFileFeeder(path: path).run(delegate: collector)
        return (collector.connections, statistics)
    }

    /// Checks that the file reads back to exactly the scripts' connections, bytes, times and endings,
    /// and that its sequence and acknowledgment numbers are exact.
    static func expectStreams(_ path: String, match scripts: [Script], sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(try sequenceProblems(path) == [], sourceLocation: sourceLocation)
        let (connections, statistics) = try streams(path)
        #expect(statistics.gaps == 0, sourceLocation: sourceLocation)
        #expect(statistics.reassembly.retransmittedBytes == 0, sourceLocation: sourceLocation)
        #expect(statistics.malformedPackets == 0 && statistics.truncatedPackets == 0, sourceLocation: sourceLocation)
        let expected = scripts.sorted { ($0.opened, $0.id) < ($1.opened, $1.id) }
        try #require(connections.count == expected.count, sourceLocation: sourceLocation)
        for (got, script) in zip(connections, expected) {
            #expect(got.client == script.client, sourceLocation: sourceLocation)
            #expect(got.server == script.server, sourceLocation: sourceLocation)
            #expect(got.opened == script.opened, sourceLocation: sourceLocation)
            #expect(got.sawSYN, sourceLocation: sourceLocation)
            #expect(got.bytes[.client]! == script.bytes(from: .client), "connection \(script.id) client bytes", sourceLocation: sourceLocation)
            #expect(got.bytes[.server]! == script.bytes(from: .server), "connection \(script.id) server bytes", sourceLocation: sourceLocation)
            #expect(got.ends == script.ends, "connection \(script.id)", sourceLocation: sourceLocation)
        }
    }

    /// Follows each direction's sequence space (SYN and FIN take one number, data its length):
    /// every segment must start exactly where the last one ended, and every ACK must
    /// acknowledge exactly what the peer has sent, FIN included. Returns what is wrong.
    static func sequenceProblems(_ path: String) throws -> [String] {
        struct Direction: Hashable {
            var source: IPAddress, sourcePort: UInt16, destination: IPAddress, destinationPort: UInt16
            var reversed: Direction { Direction(source: destination, sourcePort: destinationPort, destination: source, destinationPort: sourcePort) }
        }
        var next: [Direction: UInt32] = [:]
        var problems: [String] = []
        var index = 0
        try PcapFileReader(path: path).forEachPacket { packet in
            index += 1
            guard case .tcp(let segment) = PacketDecoder.decode(linkType: packet.linkType, bytes: packet.bytes) else {
                problems.append("packet \(index): not TCP")
                return
            }
            let me = Direction(source: segment.source, sourcePort: segment.sourcePort,
                               destination: segment.destination, destinationPort: segment.destinationPort)
            let flags = segment.flags
            if flags.contains(.syn) {
                // A SYN picks its ISN; a SYN without ACK starts a new connection on this 4-tuple.
                if !flags.contains(.ack) { next[me.reversed] = nil }
            } else if segment.sequenceNumber != next[me] {
                problems.append("packet \(index) \(flags): seq \(segment.sequenceNumber), expected \(next[me].map { "\($0)" } ?? "none")")
            }
            if flags.contains(.ack) && segment.acknowledgmentNumber != next[me.reversed] {
                problems.append("packet \(index) \(flags): ack \(segment.acknowledgmentNumber), expected \(next[me.reversed].map { "\($0)" } ?? "none")")
            }
            let consumed = UInt32(segment.payloadLength) + (flags.contains(.syn) ? 1 : 0) + (flags.contains(.fin) ? 1 : 0)
            next[me] = segment.sequenceNumber &+ consumed
        }
        return problems
    }

    /// Every packet of a recorded file, decoded, with its checksums recomputed independently.
    struct PacketSummary {
        var at: Int64
        var flags: TCPFlags
        var fromPort: UInt16
        var payloadLength: Int
        var ipv6: Bool
        var checksumsValid: Bool
    }

    static func packets(_ path: String) throws -> [PacketSummary] {
        let reader = try PcapFileReader(path: path)
        #expect(reader.linkType == 1)
        var out: [PacketSummary] = []
        try reader.forEachPacket { packet in
            guard case .tcp(let segment) = PacketDecoder.decode(linkType: packet.linkType, bytes: packet.bytes) else {
                out.append(PacketSummary(at: packet.timestamp.nanoseconds, flags: [], fromPort: 0, payloadLength: -1, ipv6: false, checksumsValid: false))
                return
            }
            let bytes = Array(packet.bytes)
            out.append(PacketSummary(at: packet.timestamp.nanoseconds, flags: segment.flags, fromPort: segment.sourcePort,
                                     payloadLength: segment.payloadLength, ipv6: segment.source.isIPv6,
                                     checksumsValid: checksumsValid(bytes) && packet.originalLength == bytes.count))
        }
        return out
    }

    /// Byte-pair sums, written plainly: a correct header sums to 0xFFFF.
    static func onesComplementSum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var index = 0
        while index < bytes.count {
            sum += UInt32(bytes[index]) << 8 | UInt32(index + 1 < bytes.count ? bytes[index + 1] : 0)
            index += 2
        }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        return UInt16(sum)
    }

    static func checksumsValid(_ packet: [UInt8]) -> Bool {
        let etherType = UInt16(packet[12]) << 8 | UInt16(packet[13])
        let ip = Array(packet[14...])
        if etherType == 0x0800 {
            let totalLength = Int(ip[2]) << 8 | Int(ip[3])
            guard totalLength == ip.count, onesComplementSum(Array(ip[0..<20])) == 0xFFFF else { return false }
            let tcp = Array(ip[20...])
            let pseudo = Array(ip[12..<20]) + [0, 6, UInt8(tcp.count >> 8), UInt8(tcp.count & 0xFF)]
            return onesComplementSum(pseudo + tcp) == 0xFFFF
        }
        guard etherType == 0x86DD else { return false }
        let payloadLength = Int(ip[4]) << 8 | Int(ip[5])
        guard payloadLength == ip.count - 40 else { return false }
        let tcp = Array(ip[40...])
        let length = UInt32(tcp.count)
        let pseudo = Array(ip[8..<40]) + [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), 0, 0, 0, 6]
        return onesComplementSum(pseudo + tcp) == 0xFFFF
    }

    // MARK: - Tests

    @Test func webSocketSessionReplaysToTheSameFacts() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (client, server) = Self.v4(50_000)
        let script = Self.webSocketSession(id: 7, client: client, server: server, opened: Self.base, closeCode: 1001)
        try Self.record([script], to: path)

        try Self.expectStreams(path, match: [script])
        let (connections, statistics, error) = Self.replay(path)
        #expect(error == nil)
        #expect(statistics.gaps == 0)
        let facts = try #require(connections.first).facts
        #expect(connections.count == 1)
        #expect(facts.client == client && facts.server == server)
        #expect(facts.sawTCPOpen && !facts.sidesGuessed)
        #expect(facts.opened == Timestamp(nanoseconds: Self.base))
        let handshake = try #require(facts.handshake)
        #expect(handshake.upgraded && handshake.status == 101 && handshake.target == "/chat")
        #expect(handshake.requestedAt.nanoseconds == script.steps[0].at)
        #expect(handshake.answeredAt?.nanoseconds == script.steps[1].at)
        #expect(facts.fromClient.messages == 3 && facts.fromClient.textMessages == 2 && facts.fromClient.binaryMessages == 1)
        #expect(facts.fromClient.pings == 1 && facts.fromClient.pingsAnswered == 1)
        #expect(facts.fromServer.messages == 2 && facts.fromServer.pongs == 1)
        #expect(facts.fromClient.bytes == Int64(script.bytes(from: .client).count))
        #expect(facts.fromServer.bytes == Int64(script.bytes(from: .server).count))
        #expect(facts.violations.isEmpty)
        #expect(facts.closeInitiator == .client)
        #expect(facts.clientClose?.code == 1001 && facts.clientClose?.reason == "bye")
        #expect(facts.serverClose?.code == 1001)
        #expect(facts.clientClose?.at.nanoseconds == script.steps[9].at)
        #expect(facts.serverClose?.at.nanoseconds == script.steps[10].at)
        #expect(facts.transport.end == .fin)
        #expect(facts.transport.firstEndBy == .server)
        #expect(facts.transport.serverFinAt?.nanoseconds == script.steps[11].at)
        #expect(facts.transport.clientFinAt?.nanoseconds == script.steps[12].at)
        #expect(facts.closed?.nanoseconds == script.steps[12].at)
        #expect(!facts.incomplete)
    }

    @Test func packetsCarryValidHeadersAndExactTimestamps() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (client, server) = Self.v4(50_000)
        let script = Self.webSocketSession(id: 1, client: client, server: server, opened: Self.base, spacing: 1)
        let recorder = try Self.record([script], to: path)

        let packets = try Self.packets(path)
        #expect(packets.allSatisfy { $0.checksumsValid })
        #expect(packets.allSatisfy { !$0.ipv6 })
        // SYN, SYN-ACK, ACK; one segment per data step; FIN + ACK per side.
        let dataSteps = script.steps.filter { if case .data = $0.step { return true } else { return false } }.count
        #expect(packets.count == 3 + dataSteps + 4)
        #expect(recorder.statistics.packetsWritten == packets.count)
        #expect(packets.prefix(3).map(\.flags) == [.syn, [.syn, .ack], .ack])
        #expect(packets.prefix(3).allSatisfy { $0.at == Self.base })
        let dataPackets = packets.filter { $0.payloadLength > 0 }
        #expect(dataPackets.allSatisfy { $0.flags == [.psh, .ack] })
        #expect(dataPackets.map(\.at) == script.steps.prefix(dataSteps).map(\.at))
        #expect(packets.suffix(4).map(\.flags) == [[.fin, .ack], .ack, [.fin, .ack], .ack])
        #expect(packets.suffix(4).map(\.fromPort) == [80, 50_000, 50_000, 80])
    }

    @Test func interleavedConnectionsStaySeparate() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        // Four sessions opened 1 ns apart whose steps interleave, with different close codes.
        let codes: [UInt16] = [1000, 1001, 4000, 1011]
        let scripts = (0..<4).map { index -> Script in
            let (client, server) = Self.v4(UInt16(40_000 + index))
            return Self.webSocketSession(id: 100 + index, client: client, server: server, opened: Self.base + Int64(index),
                                         spacing: 1_000 + Int64(index) * 7, closeCode: codes[index])
        }
        let recorder = try Self.record(scripts, to: path)
        #expect(recorder.statistics.connectionsRecorded == 4)
        #expect(recorder.statistics.openConnections == 0)

        try Self.expectStreams(path, match: scripts)
        let (connections, _, error) = Self.replay(path)
        #expect(error == nil)
        try #require(connections.count == 4)
        for (index, connection) in connections.enumerated() {
            let facts = connection.facts
            #expect(facts.client.port == UInt16(40_000 + index))
            #expect(facts.clientClose?.code == codes[index] && facts.serverClose?.code == codes[index])
            #expect(facts.fromClient.messages == 3 && facts.fromServer.messages == 2)
            #expect(facts.transport.end == .fin)
            #expect(facts.opened.nanoseconds == Self.base + Int64(index))
        }
    }

    @Test(arguments: [CaptureRecorder.largestSegmentPayload, 1460])
    func largeMessagesAreSplitIntoSegments(segmentPayload: Int) throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (client, server) = Self.v4(50_001)
        let big = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let bigText = [UInt8](repeating: UInt8(ascii: "a"), count: 200_000)
        let script = Self.webSocketSession(id: 1, client: client, server: server, opened: Self.base,
                                           extra: [Self.client(0x2, big), Self.server(0x1, bigText)])
        try Self.record([script], to: path, recorder: CaptureRecorder(path: path, maxSegmentPayload: segmentPayload))

        let packets = try Self.packets(path)
        #expect(packets.allSatisfy { $0.checksumsValid })
        #expect(packets.map(\.payloadLength).max() == segmentPayload)
        let clientSegments = packets.filter { $0.fromPort == 50_001 && $0.payloadLength > 0 }.count
        #expect(clientSegments >= 200_000 / segmentPayload + 1)
        try Self.expectStreams(path, match: [script])
        let facts = try #require(Self.replay(path).connections.first).facts
        #expect(facts.fromClient.largestMessage == 200_000 && facts.fromServer.largestMessage == 200_000)
        #expect(facts.fromClient.messages == 4 && facts.fromServer.messages == 3)
        #expect(facts.violations.isEmpty)
        #expect(facts.transport.end == .fin)
    }

    @Test func aLongOneWayStreamIsAcknowledgedByThePeer() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (client, server) = Self.v4(50_002)
        // 3 MiB from the server in one call and then in 64 KiB calls, nothing from the client.
        let chunk = [UInt8](repeating: 0x42, count: 64 * 1024)
        var extra: [Step] = [.data(.server, Self.frame(0x2, [UInt8](repeating: 0x41, count: 3 << 20), masked: false))]
        extra += [.data(.server, Self.frame(0x2, [UInt8](repeating: 0x43, count: 48 * 64 * 1024), masked: false).prefix(10).map { $0 })]
        extra += Array(repeating: Step.data(.server, chunk), count: 48)
        let script = Self.webSocketSession(id: 1, client: client, server: server, opened: Self.base, extra: extra)
        try Self.record([script], to: path)

        let packets = try Self.packets(path)
        let pureACKsFromClient = packets.filter { $0.fromPort == 50_002 && $0.flags == .ack && $0.payloadLength == 0 }.count
        // The handshake ACK, about one per MiB of the 6 MiB, and the ACK of the server's FIN.
        #expect(pureACKsFromClient >= 1 + 5 + 1)
        try Self.expectStreams(path, match: [script])
        let facts = try #require(Self.replay(path).connections.first).facts
        #expect(facts.fromServer.messages == 4 && facts.fromServer.largestMessage == 3 << 20)
    }

    @Test func ipv6Endpoints() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let client = Endpoint(address: "2001:db8::1", port: 50_000)
        let server = Endpoint(address: "2001:db8:0:1::2", port: 8080)
        let script = Self.webSocketSession(id: 1, client: client, server: server, opened: Self.base)
        try Self.record([script], to: path)

        let packets = try Self.packets(path)
        #expect(packets.allSatisfy { $0.ipv6 && $0.checksumsValid })
        try Self.expectStreams(path, match: [script])
        let facts = try #require(Self.replay(path).connections.first).facts
        #expect(facts.client.description == "[2001:db8::1]:50000")
        #expect(facts.server.description == "[2001:db8:0:1::2]:8080")
        #expect(facts.clientClose?.code == 1000 && facts.transport.end == .fin)
    }

    @Test func mixedAddressFamiliesAreWrittenAsIPv6() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        var script = Self.webSocketSession(id: 1, client: Endpoint(address: "192.0.2.10", port: 50_000),
                                           server: Endpoint(address: "[2001:db8::2]", port: 80), opened: Self.base)
        try Self.record([script], to: path)
        #expect(try Self.packets(path).allSatisfy { $0.ipv6 && $0.checksumsValid })
        // The IPv4 address comes back IPv4-mapped, the bracketed one without brackets.
        script.client = Endpoint(address: "::ffff:192.0.2.10", port: 50_000)
        script.server = Endpoint(address: "2001:db8::2", port: 80)
        try Self.expectStreams(path, match: [script])
    }

    @Test func resetEndsTheConnection() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (client, server) = Self.v4(50_003)
        var script = Script(id: 3, client: client, server: server, opened: Self.base)
        script.steps = [
            (Self.base + 10, .data(.client, Self.upgradeRequest)),
            (Self.base + 20, .data(.server, Self.upgradeResponse)),
            (Self.base + 30, Self.client(0x1, Self.text("hi"))),
            (Self.base + 40, Self.server(0x1, Self.text("hello"))),
            (Self.base + 1_500_000_050, .rst(.server)),
        ]
        // A second connection: the client half-closes, then the server resets.
        let (client2, server2) = Self.v4(50_004)
        var halfClosed = Script(id: 4, client: client2, server: server2, opened: Self.base + 1)
        halfClosed.steps = [
            (Self.base + 11, .data(.client, Self.upgradeRequest)),
            (Self.base + 21, .data(.server, Self.upgradeResponse)),
            (Self.base + 31, .fin(.client)),
            (Self.base + 41, .rst(.server)),
        ]
        let recorder = try Self.record([script, halfClosed], to: path)
        #expect(recorder.statistics.openConnections == 0)

        #expect(try Self.packets(path).allSatisfy { $0.checksumsValid })
        try Self.expectStreams(path, match: [script, halfClosed])
        let connections = Self.replay(path).connections
        try #require(connections.count == 2)
        let facts = connections[0].facts
        #expect(facts.transport.end == .rst && facts.transport.resetBy == .server)
        #expect(facts.transport.resetAt?.nanoseconds == Self.base + 1_500_000_050)
        #expect(facts.clientClose == nil && facts.serverClose == nil)
        #expect(facts.fromClient.messages == 1 && facts.fromServer.messages == 1)
        #expect(connections[1].facts.transport.clientFinAt?.nanoseconds == Self.base + 31)
        #expect(connections[1].facts.transport.resetBy == .server)
    }

    @Test func connectionsLeftOpenEndWithTheCapture() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (client, server) = Self.v4(50_005)
        var script = Script(id: 1, client: client, server: server, opened: Self.base)
        script.steps = [(Self.base + 1, .data(.client, Self.upgradeRequest)), (Self.base + 2, .data(.server, Self.upgradeResponse))]
        try Self.record([script], to: path)
        let (connections, _) = try Self.streams(path)
        #expect(connections.first?.ends == [CollectedEnd(kind: "capture-end", side: nil, at: Self.base + 2)])
        #expect(connections.first?.bytes[.server]! == Self.upgradeResponse)
    }

    @Test func theTableIsBoundedAndSkippedConnectionsAreCounted() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let recorder = try CaptureRecorder(path: path, maxConnections: 2)
        let scripts = (0..<3).map { index -> Script in
            let (client, server) = Self.v4(UInt16(41_000 + index))
            return Self.webSocketSession(id: index, client: client, server: server, opened: Self.base + Int64(index), spacing: 10)
        }
        try Self.record(scripts, to: path, recorder: recorder)
        let statistics = recorder.statistics
        #expect(statistics.connectionsRecorded == 2)
        #expect(statistics.connectionsOverLimit == 1)
        // Every step of the skipped connection is ignored.
        #expect(statistics.eventsIgnored == scripts[2].steps.count)
        try Self.expectStreams(path, match: Array(scripts.prefix(2)))
    }

    @Test func endedConnectionsFreeTheirSlot() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let recorder = try CaptureRecorder(path: path, maxConnections: 1)
        // One after another, reusing id 1 and the same 4-tuple.
        let (client, server) = Self.v4(41_100)
        let first = Self.webSocketSession(id: 1, client: client, server: server, opened: Self.base, spacing: 10)
        let second = Self.webSocketSession(id: 1, client: client, server: server, opened: Self.base + 1_000, spacing: 10, closeCode: 4001)
        try Self.record([first, second], to: path, recorder: recorder)
        #expect(recorder.statistics.connectionsRecorded == 2)
        #expect(recorder.statistics.eventsIgnored == 0)
        let connections = Self.replay(path).connections
        #expect(connections.map { $0.facts.clientClose?.code } == [1000, 4001])
    }

    @Test func unusableEndpointsAreSkippedAndCounted() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let recorder = try CaptureRecorder(path: path)
        let server = Endpoint(address: "198.51.100.20", port: 80)
        let at = Timestamp(nanoseconds: Self.base)
        recorder.opened(connection: 1, client: Endpoint(address: "client.example", port: 1), server: server, at: at)
        recorder.opened(connection: 2, client: Endpoint(address: "192.0.2.1", port: 2), server: server, at: at)
        // Same 4-tuple as connection 2 while it is open, either way round.
        recorder.opened(connection: 3, client: Endpoint(address: "192.0.2.1", port: 2), server: server, at: at)
        recorder.opened(connection: 4, client: server, server: Endpoint(address: "192.0.2.1", port: 2), at: at)
        recorder.opened(connection: 2, client: Endpoint(address: "192.0.2.9", port: 9), server: server, at: at)  // id in use
        [UInt8]("x".utf8).withUnsafeBytes { recorder.data(connection: 1, from: .client, bytes: $0, at: at) }
        recorder.finished(connection: 99, from: .client, at: at)
        recorder.finished(connection: 2, from: .client, at: at)
        [UInt8]("late".utf8).withUnsafeBytes { recorder.data(connection: 2, from: .client, bytes: $0, at: at) }  // after its FIN
        recorder.finished(connection: 2, from: .client, at: at)
        try recorder.close()
        try recorder.close()
        recorder.reset(connection: 2, from: .server, at: at)  // after close
        let statistics = recorder.statistics
        #expect(statistics.connectionsRecorded == 1)
        #expect(statistics.connectionsUnaddressable == 3)
        #expect(statistics.eventsIgnored == 6)
        #expect(statistics.packetsWritten == 3 + 2)
    }

    @Test func recordingIsReproducible() throws {
        let first = Self.temporaryPath(), second = Self.temporaryPath()
        defer {
            try? FileManager.default.removeItem(atPath: first)
            try? FileManager.default.removeItem(atPath: second)
        }
        let (client, server) = Self.v4(50_006)
        let script = Self.webSocketSession(id: 1, client: client, server: server, opened: Self.base)
        try Self.record([script], to: first)
        try Self.record([script], to: second)
        let bytes = try #require(FileManager.default.contents(atPath: first))
        #expect(bytes == FileManager.default.contents(atPath: second))
        // Classic pcap, nanosecond magic, little- or big-endian as the host writes it.
        #expect([Data([0x4D, 0x3C, 0xB2, 0xA1]), Data([0xA1, 0xB2, 0x3C, 0x4D])].contains(bytes.prefix(4)))
    }

    @Test func aConnectionsTimeNeverGoesBack() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let recorder = try CaptureRecorder(path: path)
        let (client, server) = Self.v4(50_007)
        recorder.opened(connection: 1, client: client, server: server, at: Timestamp(nanoseconds: Self.base))
        [UInt8]("a".utf8).withUnsafeBytes { recorder.data(connection: 1, from: .client, bytes: $0, at: Timestamp(nanoseconds: Self.base + 50)) }
        [UInt8]("b".utf8).withUnsafeBytes { recorder.data(connection: 1, from: .server, bytes: $0, at: Timestamp(nanoseconds: Self.base + 40)) }
        try recorder.close()
        let (connections, _) = try Self.streams(path)
        #expect(connections.first?.chunkTimes[.client] == [Self.base + 50])
        #expect(connections.first?.chunkTimes[.server] == [Self.base + 50])
    }

    @Test func concurrentCallersProduceWholeConnections() async throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let recorder = try CaptureRecorder(path: path)
        let scripts = (0..<16).map { index -> Script in
            let (client, server) = Self.v4(UInt16(42_000 + index))
            var script = Self.webSocketSession(id: index, client: client, server: server, opened: Self.base + Int64(index) * 1_000_000_000,
                                               spacing: 1_000, extra: (0..<40).map { Self.client(0x1, Self.text("message \($0) on \(index)")) })
            script.id = index
            return script
        }
        // Each connection from its own task, as from several event loops.
        await withTaskGroup(of: Void.self) { group in
            for script in scripts {
                group.addTask {
                    let id = script.id
                    recorder.opened(connection: id, client: script.client, server: script.server, at: Timestamp(nanoseconds: script.opened))
                    for (at, step) in script.steps {
                        let time = Timestamp(nanoseconds: at)
                        switch step {
                        case .data(let side, let bytes): bytes.withUnsafeBytes { recorder.data(connection: id, from: side, bytes: $0, at: time) }
                        case .fin(let side): recorder.finished(connection: id, from: side, at: time)
                        case .rst(let side): recorder.reset(connection: id, from: side, at: time)
                        }
                    }
                }
            }
        }
        try recorder.close()
        #expect(recorder.statistics.connectionsRecorded == 16)
        // Packets of different connections interleave in any order, so compare by port.
        let (connections, statistics) = try Self.streams(path)
        #expect(statistics.gaps == 0)
        try #require(connections.count == 16)
        for connection in connections {
            let script = try #require(scripts.first { $0.client == connection.client })
            #expect(connection.bytes[.client]! == script.bytes(from: .client))
            #expect(connection.bytes[.server]! == script.bytes(from: .server))
            #expect(connection.ends == script.ends)
            #expect(connection.opened == script.opened)
        }
    }

    @Test func aFileThatCannotBeCreatedNamesThePath() {
        let path = "/nonexistent-wsdoctor-directory/recording.pcap"
        #expect {
            _ = try CaptureRecorder(path: path)
        } throws: { error in
            guard let error = error as? RecordingError else { return false }
            return error.reason == .cannotOpen && error.path == path && error.description.hasPrefix(path + ": ")
        }
    }

    // MARK: - tshark

    static let tsharkInstalled = FileManager.default.isExecutableFile(atPath: "/usr/bin/tshark")

    /// tshark's expert-info rows by section ("Errors", "Warns", "Notes", "Chats", "Comments"),
    /// with IPv4 and TCP checksum validation on.
    static func tsharkExpert(_ path: String) throws -> [String: [String]] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/tshark")
        process.arguments = ["-n", "-r", path, "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-z", "expert", "-q"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        // A section is a heading "Warns (3)", a line of "=", a column header, then rows.
        var sections: [String: [String]] = [:]
        var current: String?
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            if let first = line.first, !first.isWhitespace, first != "=", let open = line.firstIndex(of: "(") {
                current = line[..<open].trimmingCharacters(in: .whitespaces)
                sections[current!, default: []] = []
            } else if let current, line.first != "=", !line.contains("Frequency") {
                sections[current]!.append(line.trimmingCharacters(in: .whitespaces))
            }
        }
        return sections
    }

    @Test(.enabled(if: tsharkInstalled, "needs /usr/bin/tshark"))
    func tsharkFindsNoErrorsOrWarnings() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let big = [UInt8](repeating: 0x5A, count: 200_000)
        var scripts = (0..<3).map { index -> Script in
            let (client, server) = Self.v4(UInt16(43_000 + index))
            return Self.webSocketSession(id: index, client: client, server: server, opened: Self.base + Int64(index), spacing: 997,
                                         extra: [Self.client(0x2, big), Self.server(0x2, big)])
        }
        scripts.append(Self.webSocketSession(id: 9, client: Endpoint(address: "2001:db8::1", port: 43_009),
                                             server: Endpoint(address: "2001:db8::2", port: 8080), opened: Self.base + 5,
                                             extra: [.data(.server, Self.frame(0x2, [UInt8](repeating: 1, count: 3 << 20), masked: false))]))
        try Self.record(scripts, to: path)
        let expert = try Self.tsharkExpert(path)
        // tshark saw the handshakes and the FINs, and nothing worse than notes.
        #expect(expert["Chats"]?.contains { $0.contains("HTTP/1.1 101 Switching Protocols") } == true)
        #expect(expert["Chats"]?.contains { $0.contains("Connection finish (FIN)") } == true)
        #expect(Set(expert.keys).isSubset(of: ["Notes", "Chats", "Comments"]), "\(expert)")
    }

    @Test(.enabled(if: tsharkInstalled, "needs /usr/bin/tshark"))
    func tsharkWarnsOnlyAboutTheReset() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (client, server) = Self.v4(43_100)
        var script = Script(id: 1, client: client, server: server, opened: Self.base)
        script.steps = [
            (Self.base + 10, .data(.client, Self.upgradeRequest)),
            (Self.base + 20, .data(.server, Self.upgradeResponse)),
            (Self.base + 30, Self.client(0x1, Self.text("hi"))),
            (Self.base + 40, .rst(.client)),
        ]
        try Self.record([script], to: path)
        let expert = try Self.tsharkExpert(path)
        #expect(expert["Errors"] == nil)
        let warnings = try #require(expert["Warns"])
        #expect(warnings.count == 1 && warnings.allSatisfy { $0.contains("Connection reset (RST)") }, "\(warnings)")
    }
}
