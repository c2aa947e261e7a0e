#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import Diagnosis

/// Writes one line to standard error.
func printError(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    bytes.withUnsafeBytes { _ = write(2, $0.baseAddress!, $0.count) }
}

/// `write(2)`, named so it does not clash with methods called `write`.
func systemWrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, buffer, count)
}

/// The default rules with `files` layered over them; a broken file is one line on
/// standard error and exit status 2.
func loadRules(_ files: [String]) throws -> RuleSet {
    do {
        return try RuleSet.loading(files: files)
    } catch {
        printError("wsdoctor: \(error)")
        throw ExitCode(2)
    }
}
