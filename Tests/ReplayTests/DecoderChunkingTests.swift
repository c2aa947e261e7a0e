import Capture
import Diagnosis
import Testing
import WebSocketWire
import WireTestSupport

/// Real recorded streams decode to the same events however their bytes are chunked.
@Suite struct DecoderChunkingTests {
    /// Records every connection's byte chunks in capture order.
    final class ChunkRecorder: TCPStreamDelegate {
        var chunks: [TCPConnectionID: [(Side, [UInt8])]] = [:]
        func connectionOpened(_ id: TCPConnectionID, client: Endpoint, server: Endpoint, at: Timestamp, sawSYN: Bool, sidesGuessed: Bool) {
            chunks[id] = []
        }
        func received(_ id: TCPConnectionID, from: Side, bytes: UnsafeRawBufferPointer, at: Timestamp) {
            chunks[id, default: []].append((from, Array(bytes)))
        }
        func gap(_ id: TCPConnectionID, from: Side, missingBytes: Int64, at: Timestamp) {}
        func finished(_ id: TCPConnectionID, from: Side, at: Timestamp) {}
        func reset(_ id: TCPConnectionID, from: Side, at: Timestamp) {}
        func captureEnded(_ id: TCPConnectionID, at: Timestamp) {}
    }

    private func decode(_ chunks: [(Side, [UInt8])], split: (Int) -> [Int]) -> [WireEvent] {
        // Undecided mode: HTTP when it looks like HTTP, frames searched for otherwise (mid-stream captures).
        var decoder = ConnectionDecoder(configuration: ConnectionDecoderConfiguration(assumeWebSocket: true))
        var events: [WireEvent] = []
        for (side, bytes) in chunks {
            var start = 0
            for size in split(bytes.count) where start < bytes.count {
                let end = min(bytes.count, start + size)
                bytes[start..<end].withUnsafeBytes { decoder.feed($0, from: side, into: &events) }
                start = end
            }
            if start < bytes.count {
                bytes[start...].withUnsafeBytes { decoder.feed($0, from: side, into: &events) }
            }
        }
        decoder.endOfStream(from: .client, into: &events)
        decoder.endOfStream(from: .server, into: &events)
        return events
    }

    @Test(arguments: allFixtures)
    func byteByByteAndRandomChunksGiveTheSameEvents(file: String) throws {
        let recorder = ChunkRecorder()
        // Captures without the upgrade need the server port to tell the sides apart.
        let serverPorts: Set<UInt16> = file.contains("mid-stream") ? [58533, 40235] : []
        try CaptureFileFeeder(path: fixturePath(file), configuration: TCPReassembler.Configuration(serverPorts: serverPorts)).run(delegate: recorder)
        var rng = SeededGenerator(seed: UInt64(file.utf8.count))
        // A connection that carried no byte (diag-client-sent-nothing) has nothing to chunk.
        for (_, chunks) in recorder.chunks where !chunks.isEmpty {
            let whole = decode(chunks) { [$0] }
            #expect(!whole.isEmpty)
            #expect(decode(chunks) { Array(repeating: 1, count: $0) } == whole)
            let random = decode(chunks) { count in (0..<max(1, count)).map { _ in Int.random(in: 1...7, using: &rng) } }
            #expect(random == whole)
            // Consecutive chunks from one side merged into one.
            var merged: [(Side, [UInt8])] = []
            for (side, bytes) in chunks {
                if let last = merged.last, last.0 == side { merged[merged.count - 1].1 += bytes } else { merged.append((side, bytes)) }
            }
            #expect(decode(merged) { [$0] } == whole)
        }
    }
}
