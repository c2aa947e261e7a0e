import ArgumentParser
import Foundation

/// Writes a whole report file (`--har`, `--html`) by renaming a finished temporary file
/// over it, so a reader (a browser refresh) never sees half of one.
func writeReportFile(_ text: String, to path: String) throws {
    do {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
        printError("wsdoctor: cannot write \(path): \((error as NSError).localizedDescription)")
        throw ExitCode(1)
    }
}
