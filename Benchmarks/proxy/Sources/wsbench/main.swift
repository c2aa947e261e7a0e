import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

let usage = """
    usage:
      wsbench echo-server --port P [--host 127.0.0.1] [--threads T]
      wsbench load --url ws://HOST:PORT --connections N --size BYTES --duration SECONDS [--warmup 1] [--threads T] [--window 4]
      wsbench idle --url ws://HOST:PORT --connections N --hold SECONDS [--threads T] [--window 128]

    echo-server  echoes every data frame as it arrives (unmasked), answers pings and closes.
    load         N connections, each running S-byte binary echo round trips back to back, one
                 outstanding per connection; prints messages/s, payload MB/s (one way) and
                 round-trip latency percentiles, then a RESULT line for scripts.
    idle         opens N WebSocket connections (handshakes completed, at most --window in
                 flight), prints READY, holds them idle, closes them with close frames, prints DONE.
    T defaults to the number of cores. --window: handshakes in flight at once while connecting (socat
    listens with a backlog of 5: more than that in flight loses SYNs and stalls on retransmission).
    """

/// `--name value` pairs, each taken once.
final class Options {
    private var values: [String: String] = [:]

    init(_ arguments: ArraySlice<String>) {
        var arguments = arguments
        while let name = arguments.popFirst() {
            guard name.hasPrefix("--"), let value = arguments.popFirst() else { fail("unexpected argument \(name)\n\(usage)") }
            values[String(name.dropFirst(2))] = value
        }
    }

    func callAsFunction<T: LosslessStringConvertible>(_ name: String, _ fallback: T? = nil) -> T {
        guard let text = values.removeValue(forKey: name) else {
            if let fallback { return fallback }
            fail("missing --\(name)\n\(usage)")
        }
        guard let value = T(text) else { fail("--\(name): cannot read \(text)") }
        return value
    }

    func url() -> WebSocketURL {
        let text: String = self("url")
        guard let url = WebSocketURL(text) else { fail("--url must be ws://HOST:PORT[/path] (got \(text))") }
        return url
    }

    func checkNoneLeft() {
        if let extra = values.keys.first { fail("unknown option --\(extra)\n\(usage)") }
    }
}

let arguments = CommandLine.arguments.dropFirst()
guard let command = arguments.first else { fail(usage) }
let option = Options(arguments.dropFirst())
let url = option.url
let checkNoneLeft = option.checkNoneLeft

do {
    switch command {
    case "echo-server":
        let port: Int = option("port")
        let host: String = option("host", "127.0.0.1")
        let threads: Int = option("threads", System.coreCount)
        checkNoneLeft()
        try EchoServer.run(host: host, port: port, threads: threads)
    case "load":
        let loadOptions = Load.Options(
            url: url(), connections: option("connections"), size: option("size"),
            duration: option("duration"), warmup: option("warmup", 1.0), threads: option("threads", System.coreCount),
            window: option("window", 4))
        checkNoneLeft()
        guard loadOptions.connections > 0, loadOptions.window > 0, loadOptions.size >= 0, loadOptions.duration > 0, loadOptions.warmup >= 0,
              loadOptions.duration + loadOptions.warmup <= 600
        else { fail("--connections must be > 0, --duration > 0 and warmup + duration at most 600 s") }
        try Load.run(loadOptions)
    case "idle":
        let target = url()
        let connections: Int = option("connections")
        let hold: Double = option("hold")
        let threads: Int = option("threads", System.coreCount)
        let window: Int = option("window", 128)
        checkNoneLeft()
        guard connections > 0, hold >= 0, hold <= 3600, window > 0 else { fail("bad --connections, --hold or --window") }
        try Idle.run(url: target, connections: connections, hold: hold, threads: threads, window: window)
    case "-h", "--help", "help":
        print(usage)
    default:
        fail("unknown command \(command)\n\(usage)")
    }
} catch {
    fail("\(error)")
}
