/// Walks over a message body so the bytes after it are found (keep-alive, pipelining).
///
/// Body bytes are counted, never buffered. Chunked framing is parsed as
/// RFC 9112 §7.1 describes it — chunk sizes, chunk extensions, the last chunk
/// and the trailer section — with every line bounded.
public struct HTTPBodySkipper: Sendable {
    /// How the end of a body is found (RFC 9112 §6.3).
    public enum Framing: Sendable, Equatable {
        /// No body at all.
        case none
        /// Exactly this many bytes.
        case length(Int64)
        /// Transfer-Encoding: chunked.
        case chunked
        /// Everything until the connection closes.
        case untilClose
    }

    /// What `skip(_:)` found.
    public enum Outcome: Sendable, Equatable {
        case needMoreData
        /// The body ended; bytes after `consumed` belong to the next message.
        case done
        case malformed(String)
    }

    /// How a message's body length is found, for a request (RFC 9112 §6.3).
    ///
    /// Transfer-Encoding with chunked last wins over Content-Length. A request
    /// with another final transfer coding, or an invalid or conflicting
    /// Content-Length, has no reliable length: the server must answer 400 and
    /// close, so the body is taken to run until close.
    public static func framing(request: HTTPRequestHead) -> Framing {
        if let codings = transferCodings(request.headers) {
            return isChunkedLast(codings) ? .chunked : .untilClose
        }
        switch contentLength(request.headers) {
        case .absent: return .none
        case .valid(let length): return .length(length)
        case .invalid: return .untilClose
        }
    }

    /// How a message's body length is found, for a response to `requestMethod` (RFC 9112 §6.3).
    ///
    /// HEAD responses and 1xx, 204 and 304 have no body; a 2xx to CONNECT turns
    /// the connection into a tunnel; then chunked, then Content-Length; without
    /// either (or with an invalid one) the body runs until the connection closes.
    public static func framing(response: HTTPResponseHead, requestMethod: String) -> Framing {
        if requestMethod == "HEAD" { return .none }
        switch response.status {
        case 100..<200, 204, 304: return .none
        case 200..<300 where requestMethod == "CONNECT": return .untilClose
        default: break
        }
        if let codings = transferCodings(response.headers) {
            return isChunkedLast(codings) ? .chunked : .untilClose
        }
        switch contentLength(response.headers) {
        case .absent, .invalid: return .untilClose
        case .valid(let length): return .length(length)
        }
    }

    private static func transferCodings(_ headers: HTTPHeaders) -> [String]? {
        headers.count(of: "Transfer-Encoding") == 0 ? nil : headers.values("Transfer-Encoding")
    }

    private static func isChunkedLast(_ codings: [String]) -> Bool {
        // A coding may carry parameters ("gzip;q=1"); only the name counts.
        guard let last = codings.last else { return false }
        let name = last.split(separator: ";", maxSplits: 1).first.map(HTTPSyntax.trimmed) ?? ""
        return HTTPSyntax.equalsIgnoringCase(name, "chunked")
    }

    private enum ContentLength {
        case absent
        case valid(Int64)
        case invalid
    }

    /// Content-Length, allowing a list of identical values (RFC 9110 §8.6).
    private static func contentLength(_ headers: HTTPHeaders) -> ContentLength {
        guard headers.count(of: "Content-Length") > 0 else { return .absent }
        let values = headers.values("Content-Length")
        guard let first = values.first else { return .invalid }
        var length: Int64 = 0
        for c in first.utf8 {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return .invalid }
            let (times10, o1) = length.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int64(c - UInt8(ascii: "0")))
            guard !o1, !o2 else { return .invalid }
            length = sum
        }
        return values.allSatisfy({ $0 == first }) ? .valid(length) : .invalid
    }

    private enum State: Sendable, Equatable {
        case done
        case untilClose
        case length(remaining: Int64)
        /// Hex digits of a chunk size; `digits` counts them, `lineLength` the whole line so far.
        case chunkSize(size: Int64, digits: Int, lineLength: Int)
        /// After the size: whitespace and chunk extensions up to the end of the line.
        case chunkExtension(size: Int64, lineLength: Int, sawCR: Bool)
        case chunkData(remaining: Int64)
        /// The CRLF that ends chunk data.
        case chunkDataEnd(sawCR: Bool)
        /// A trailer line, or the empty line ending the trailer section.
        case trailer(lineLength: Int, sawCR: Bool, sawColon: Bool)
        case failed(String)
    }

    private var state: State
    private var trailerSize = 0
    /// The longest chunk-size line (size, extensions) or trailer line accepted.
    public let maxLineLength: Int
    /// The most bytes the trailer section may take.
    public let maxTrailerSize: Int

    /// Creates a skipper for one body.
    ///
    /// - Parameters:
    ///   - maxLineLength: bound on a chunk-size line with its extensions and on
    ///     one trailer line. 4 KiB is far above anything real (extensions are
    ///     practically unused) yet stops a peer that streams an endless line.
    ///   - maxTrailerSize: bound on the trailer section; 16 KiB matches the head
    ///     limit of `HTTPHeadParser`, since trailers are headers sent late.
    public init(_ framing: Framing, maxLineLength: Int = 4 * 1024, maxTrailerSize: Int = 16 * 1024) {
        self.maxLineLength = maxLineLength
        self.maxTrailerSize = maxTrailerSize
        switch framing {
        case .none: state = .done
        case .length(let n): state = n > 0 ? .length(remaining: n) : (n == 0 ? .done : .failed("negative Content-Length"))
        case .chunked: state = .chunkSize(size: 0, digits: 0, lineLength: 0)
        case .untilClose: state = .untilClose
        }
    }

    /// Consumes body bytes from the front of `bytes`.
    ///
    /// Returns how many bytes belonged to the body and whether it has ended.
    /// On `.needMoreData` every byte was consumed; on `.malformed` the count
    /// includes the offending byte. Once `.done` or `.malformed`,
    /// later calls consume nothing and repeat the outcome. `.untilClose` never
    /// ends here: the end of the connection ends it.
    public mutating func skip(_ bytes: UnsafeRawBufferPointer) -> (consumed: Int, outcome: Outcome) {
        var index = 0
        let count = bytes.count
        while true {
            switch state {
            case .done:
                return (index, .done)
            case .failed(let message):
                return (index, .malformed(message))
            case .untilClose:
                return (count, .needMoreData)
            case .length(let remaining):
                let take = Int(min(remaining, Int64(count - index)))
                index += take
                state = remaining == Int64(take) ? .done : .length(remaining: remaining - Int64(take))
                if case .length = state { return (index, .needMoreData) }
            case .chunkData(let remaining):
                let take = Int(min(remaining, Int64(count - index)))
                index += take
                if remaining == Int64(take) {
                    state = .chunkDataEnd(sawCR: false)
                } else {
                    state = .chunkData(remaining: remaining - Int64(take))
                    return (index, .needMoreData)
                }
            case .chunkSize, .chunkExtension, .chunkDataEnd, .trailer:
                guard index < count else { return (index, .needMoreData) }
                let c = bytes[index]
                index += 1
                step(c)
            }
        }
    }

    /// Advances the chunked-framing line states by one byte.
    private mutating func step(_ c: UInt8) {
        let cr = UInt8(ascii: "\r")
        let lf = UInt8(ascii: "\n")
        switch state {
        case .chunkSize(let size, let digits, let lineLength):
            guard lineLength < maxLineLength else { return fail("chunk-size line longer than \(maxLineLength) bytes") }
            if let v = Self.hexValue(c) {
                guard size <= (Int64.max - 15) / 16 else { return fail("chunk size overflows 63 bits") }
                state = .chunkSize(size: size * 16 + Int64(v), digits: digits + 1, lineLength: lineLength + 1)
                return
            }
            guard digits > 0 else { return fail("chunk size is not hexadecimal (byte 0x\(String(c, radix: 16)))") }
            if c == lf {
                chunkSizeLineEnded(size)
            } else if c == cr {
                state = .chunkExtension(size: size, lineLength: lineLength + 1, sawCR: true)
            } else if c == UInt8(ascii: ";") || HTTPSyntax.isWhitespace(c) {
                state = .chunkExtension(size: size, lineLength: lineLength + 1, sawCR: false)
            } else {
                fail("unexpected byte 0x\(String(c, radix: 16)) after chunk size")
            }
        case .chunkExtension(let size, let lineLength, let sawCR):
            if c == lf {
                chunkSizeLineEnded(size)
            } else if sawCR {
                fail("bare CR in chunk-size line")
            } else if lineLength >= maxLineLength {
                fail("chunk-size line longer than \(maxLineLength) bytes")
            } else if c == cr {
                state = .chunkExtension(size: size, lineLength: lineLength + 1, sawCR: true)
            } else if HTTPSyntax.isFieldValueByte(c) {
                state = .chunkExtension(size: size, lineLength: lineLength + 1, sawCR: false)
            } else {
                fail("control character 0x\(String(c, radix: 16)) in chunk extension")
            }
        case .chunkDataEnd(let sawCR):
            if c == lf {
                state = .chunkSize(size: 0, digits: 0, lineLength: 0)
            } else if c == cr, !sawCR {
                state = .chunkDataEnd(sawCR: true)
            } else {
                fail("chunk data not followed by CRLF (byte 0x\(String(c, radix: 16)))")
            }
        case .trailer(let lineLength, let sawCR, let sawColon):
            trailerSize += 1
            guard trailerSize <= maxTrailerSize else { return fail("trailer section longer than \(maxTrailerSize) bytes") }
            if c == lf {
                if lineLength == 0 {
                    state = .done
                } else if !sawColon {
                    fail("trailer line without a colon")
                } else {
                    state = .trailer(lineLength: 0, sawCR: false, sawColon: false)
                }
            } else if sawCR {
                fail("bare CR in trailer section")
            } else if c == cr {
                state = .trailer(lineLength: lineLength, sawCR: true, sawColon: sawColon)
            } else if lineLength == 0, HTTPSyntax.isWhitespace(c) {
                fail("obsolete line folding in trailer section")
            } else if lineLength >= maxLineLength {
                fail("trailer line longer than \(maxLineLength) bytes")
            } else if HTTPSyntax.isFieldValueByte(c) {
                state = .trailer(lineLength: lineLength + 1, sawCR: false, sawColon: sawColon || c == UInt8(ascii: ":"))
            } else {
                fail("control character 0x\(String(c, radix: 16)) in trailer section")
            }
        case .done, .untilClose, .length, .chunkData, .failed:
            // skip(_:) handles these without stepping byte by byte.
            break
        }
    }

    private mutating func chunkSizeLineEnded(_ size: Int64) {
        state = size == 0 ? .trailer(lineLength: 0, sawCR: false, sawColon: false) : .chunkData(remaining: size)
    }

    private mutating func fail(_ message: String) {
        state = .failed(message)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
