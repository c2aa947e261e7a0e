// The libFuzzer entry point over wsdoctor's input parsers; `FuzzTarget` says which one.
//
// `Fuzz/run.sh` builds this with `--sanitize=fuzzer` and `-DFUZZING`: libFuzzer supplies
// `main`, and SwiftPM compiles the file as a library. A plain `swift build` has no
// libFuzzer, so it gets the `@main` replayer below instead (SwiftPM sees `@main` and
// compiles as a library there too; top-level statements would not build in both).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    _ = FuzzTarget.selected.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

#if !FUZZING
import Foundation

/// Replays corpus files or directories through one fuzz target and prints what each produced.
@main
enum CorpusReplayer {
    static func main() {
        var paths = Array(CommandLine.arguments.dropFirst())
        var target = FuzzTarget.analyzer
        if let first = paths.first, let named = FuzzTarget(rawValue: first) {
            target = named
            paths.removeFirst()
        }
        guard !paths.isEmpty else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")
            print("usage: wsdoctor-fuzz [\(names)] FILE-OR-DIRECTORY...  (Fuzz/run.sh builds the real fuzzer)")
            exit(2)
        }
        for path in paths {
            for file in files(at: path) {
                guard let data = FileManager.default.contents(atPath: file) else {
                    print("\(file): cannot read")
                    exit(1)
                }
                let clock = ContinuousClock()
                var summary = ""
                let elapsed = clock.measure { summary = data.withUnsafeBytes { target.run($0) } }
                let milliseconds = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
                print("\(file): \(data.count) bytes, \(milliseconds) ms: \(summary)")
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
