import NIOCore

/// wsdoctor's own HTTP answers to a client (502, 503, 408, 504): written, then the output
/// half-closed and the client read out, so the close is a FIN rather than a reset that could
/// destroy the answer before the client reads it; the channel is closed 2 s later at most.
enum HTTPAnswer {
    static func send(_ status: String, headers: [String] = [], body: String, to client: any Channel) {
        var buffer = client.allocator.buffer(capacity: 256)
        buffer.writeString("HTTP/1.1 \(status)\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\n")
        for header in headers { buffer.writeString(header + "\r\n") }
        buffer.writeString("Connection: close\r\n\r\n")
        buffer.writeString(body)
        client.writeAndFlush(buffer).whenComplete { _ in client.close(mode: .output, promise: nil) }
        client.eventLoop.scheduleTask(in: .seconds(2)) { client.close(promise: nil) }
    }
}
