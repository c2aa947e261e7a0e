import Foundation
import Testing
import WebSocketWire
import WireTestSupport

/// Compares the frames replay decodes with what tshark's dissector sees in the same captures.
@Suite struct TsharkCrossCheckTests {
    static let tsharkInstalled = FileManager.default.isExecutableFile(atPath: "/usr/bin/tshark")

    @Test(.enabled(if: tsharkInstalled, "tshark is installed by scripts/install-deps.sh"), arguments: fixturesWithHandshake)
    func opcodesAndCloseCodesMatchTshark(file: String) throws {
        let tshark = try tsharkFrames(fixturePath(file))
        let ours = decodedFrames(fixturePath(file))
        #expect(!ours.isEmpty || tshark.isEmpty)
        for key in Set(tshark.keys).union(ours.keys).sorted(by: { "\($0)" < "\($1)" }) {
            #expect(ours[key] ?? [] == tshark[key] ?? [], "connection \(key.connection) \(key.direction)")
        }
    }

    struct Key: Hashable, CustomStringConvertible {
        var connection: Int
        var direction: String
        var description: String { "\(connection) \(direction)" }
    }

    /// Per connection and direction: "opcode" or "8/code" for close frames, in stream order.
    private func decodedFrames(_ path: String) -> [Key: [String]] {
        var result: [Key: [String]] = [:]
        for (index, connection) in replay(path).connections.enumerated() {
            var closeCodes: [Side: [Int: UInt16?]] = [:]
            for entry in connection.timeline {
                if case .close(let close) = entry.event { closeCodes[close.side, default: [:]][close.frameIndex] = close.code }
            }
            for entry in connection.timeline {
                guard case .frame(let frame) = entry.event else { continue }
                let key = Key(connection: index, direction: frame.side == .client ? "c2s" : "s2c")
                var text = String(frame.opcode.rawValue)
                if frame.opcode == .close, let code = closeCodes[frame.side]?[frame.index] ?? nil { text += "/\(code)" }
                result[key, default: []].append(text)
            }
        }
        return result
    }

    private func tsharkFrames(_ path: String) throws -> [Key: [String]] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [repositoryRoot.appendingPathComponent("Fixtures/record/tshark-frames.sh").path, path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        var result: [Key: [String]] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ").map(String.init)
            guard fields.count == 4, let stream = Int(fields[0]) else { continue }
            var text = fields[2]
            if fields[2] == "8" && fields[3] != "-" { text += "/\(fields[3])" }
            result[Key(connection: stream, direction: fields[1]), default: []].append(text)
        }
        return result
    }
}
