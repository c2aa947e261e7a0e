import Comparison
import Foundation
import Testing
import WireTestSupport

/// Two captures are read side by side and each pair is forgotten once compared: what is held
/// follows the connections open at one time, not the size of the captures. Counted, not
/// timed: the replay benchmark's generator writes 1,000 connections, 32 open at once, and the
/// near-server copy is the same traffic 2 ms later.
@Suite struct BoundedMemoryTests {
    static let connections = 1000
    static let openAtOnce = 32

    private func generatedPair(in folder: URL) throws -> (nearClient: String, nearServer: String) {
        let nearClient = folder.appendingPathComponent("near-client.pcap").path
        let nearServer = folder.appendingPathComponent("near-server.pcap").path
        let generator = repositoryRoot.appendingPathComponent("Benchmarks/replay/generate_capture.py").path
        let generated = try run("/usr/bin/python3", [generator, "--size-mb", "2", "--connections", String(Self.connections), "--out", nearClient],
                                timeout: 120)
        #expect(generated.status == 0, "\(generated.stderr)")
        let shifted = try run("/usr/bin/editcap", ["-t", "0.002", nearClient, nearServer])
        #expect(shifted.status == 0, "\(shifted.stderr)")
        return (nearClient, nearServer)
    }

    @Test func manyConnectionsAreHeldOnlyWhileOpen() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let files = try generatedPair(in: folder)
        let comparison = try compare(nearClient: files.nearClient, nearServer: files.nearServer)
        #expect(comparison.totals.pairs == Self.connections)
        #expect(comparison.onlyNearClient.isEmpty && comparison.onlyNearServer.isEmpty)
        #expect(comparison.pairs.allSatisfy { $0.diagnosis.id == "transparent" })
        #expect(abs(comparison.clock.seconds - 0.002) < 0.001)
        // Both legs' open connections, and a few just ended whose counterpart ends next.
        #expect(comparison.peakHeld <= 2 * Self.openAtOnce + 8, "held \(comparison.peakHeld) at once")
    }

    @Test func pastTheBoundConnectionsAreCountedNotCompared() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let files = try generatedPair(in: folder)
        let comparison = try compare(nearClient: files.nearClient, nearServer: files.nearServer, maxHeld: 8)
        #expect(comparison.peakHeld <= 2 * 8)
        #expect(comparison.notKept[.nearClient]! > 0 && comparison.notKept[.nearServer]! > 0)
        #expect(comparison.totals.pairs > 0 && comparison.totals.pairs < Self.connections)
    }
}
