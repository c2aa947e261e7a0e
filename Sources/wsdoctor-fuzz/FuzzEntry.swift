// The libFuzzer entry point over the connection analyzer; the input format is `FuzzInput`'s.
//
// `Fuzz/run.sh` builds this with `--sanitize=fuzzer` and `-DFUZZING`: libFuzzer supplies
// `main`, and SwiftPM compiles the file as a library. A plain `swift build` has no
// libFuzzer, so it gets the `@main` replayer below instead (SwiftPM sees `@main` and
// compiles as a library there too; top-level statements would not build in both).

import Diagnosis

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    _ = FuzzInput.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

#if !FUZZING
import Foundation

/// Replays corpus files or directories through the fuzz function and prints what each produced.
@main
enum CorpusReplayer {
    static func main() {
        let paths = CommandLine.arguments.dropFirst()
        guard !paths.isEmpty else {
            print("usage: wsdoctor-fuzz FILE-OR-DIRECTORY...  (Fuzz/run.sh builds the real fuzzer)")
            exit(2)
        }
        for path in paths {
            for file in files(at: path) {
                guard let data = FileManager.default.contents(atPath: file) else {
                    print("\(file): cannot read")
                    continue
                }
                let analyzer = data.withUnsafeBytes { FuzzInput.run($0) }
                let facts = analyzer.facts
                let kinds = Set(facts.violations.map(\.kind.rawValue)).sorted().joined(separator: ",")
                print("\(file): \(data.count) bytes, frames \(facts.fromClient.frames)/\(facts.fromServer.frames),"
                      + " violations \(facts.violations.count) [\(kinds)], stopped \(facts.undecodable.count)")
            }
        }
    }

    private static func files(at path: String) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { return [path] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { "\(path)/\($0)" }
    }
}
#endif
