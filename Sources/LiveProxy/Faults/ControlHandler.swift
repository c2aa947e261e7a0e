import FaultInjection
import NIOCore
import NIOHTTP1
import Reporting

/// Answers one control API request at a time (see `ControlServer`).
final class ControlHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let proxy: ProxyServer
    private let book: FaultBook
    private var method: HTTPMethod = .GET
    private var path = ""
    private var body: [UInt8] = []
    private var tooLarge = false

    init(proxy: ProxyServer, book: FaultBook) {
        self.proxy = proxy
        self.book = book
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            method = head.method
            path = String(head.uri.prefix { $0 != "?" })
            body = []
            tooLarge = false
        case .body(let part):
            if body.count + part.readableBytes > ControlServer.maxBodySize { tooLarge = true } else { body += part.readableBytesView }
        case .end:
            respond(context)
        }
    }

    private func respond(_ context: ChannelHandlerContext) {
        if tooLarge { return send(context, .payloadTooLarge, error: "the body is over \(ControlServer.maxBodySize) bytes") }
        let parts = path.split(separator: "/").map(String.init)
        switch (method, parts.first, parts.count) {
        case (.GET, "faults", 1):
            var json = JSONWriter()
            json.beginObject()
            json.beginArray("faults")
            for entry in book.all { json.fault(entry.fault, claimed: entry.claimed) }
            json.endArray()
            json.endObject()
            send(context, .ok, json.output)
        case (.POST, "faults", 1):
            do {
                let faults = try FaultParser.parseRequest(String(decoding: body, as: UTF8.self))
                try book.add(faults)
                var json = JSONWriter()
                json.beginObject()
                json.beginArray("added")
                for fault in faults { json.string(nil, fault.id) }
                json.endArray()
                json.endObject()
                send(context, .created, json.output)
            } catch {
                send(context, .badRequest, error: "\(error)")
            }
        case (.DELETE, "faults", 2):
            if book.remove(id: parts[1]) {
                send(context, .ok, #"{"removed": \#(quoted(parts[1]))}"#)
            } else {
                send(context, .notFound, error: "no fault with id `\(parts[1])`")
            }
        case (.GET, "connections", 1):
            listConnections(context)
        case (.POST, "connections", 2):
            guard let id = Int(parts[1]) else { return send(context, .badRequest, error: "`\(parts[1])` is not a connection number") }
            act(on: id, context)
        default:
            send(context, .notFound, error: "try GET/POST /faults, DELETE /faults/ID, GET /connections, POST /connections/N")
        }
    }

    private func listConnections(_ context: ChannelHandlerContext) {
        let sessions = proxy.openSessions()
        let rows = sessions.map { entry in
            entry.loop.submit { () -> (Int, String, String?, Bool) in
                let session = entry.session.value
                let facts = session.analyzer.facts
                return (entry.id + 1, facts.client.description, facts.handshake?.target, session.faults?.isOpenWebSocket ?? false)
            }
        }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        EventLoopFuture.whenAllComplete(rows, on: context.eventLoop).assumeIsolated().whenSuccess { results in
            var json = JSONWriter()
            json.beginObject()
            json.beginArray("connections")
            for case .success(let row) in results.sorted(by: { (try? $0.get().0) ?? 0 < (try? $1.get().0) ?? 0 }) {
                json.beginObject()
                json.number("id", row.0)
                json.string("client", row.1)
                json.string("path", row.2)
                json.bool("websocket", row.3)
                json.endObject()
            }
            json.endArray()
            json.endObject()
            bound.value.0.send(bound.value.1, .ok, json.output)
        }
    }

    private func act(on id: Int, _ context: ChannelHandlerContext) {
        let faults: [Fault]
        do {
            faults = try FaultParser.parseRequest(String(decoding: body, as: UTF8.self))
        } catch {
            return send(context, .badRequest, error: "\(error)")
        }
        guard faults.count == 1, let fault = faults.first else { return send(context, .badRequest, error: "give one fault to do now") }
        guard let entry = proxy.openSessions().first(where: { $0.id + 1 == id }) else {
            return send(context, .notFound, error: "no open connection \(id)")
        }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        entry.loop.submit { () -> String? in
            guard let faults = entry.session.value.faults else { return "the connection has no fault handler" }
            return faults.actNow(fault)
        }.hop(to: context.eventLoop).assumeIsolated().whenSuccess { problem in
            let (handler, context) = bound.value
            if let problem {
                handler.send(context, .conflict, error: problem)
            } else {
                handler.send(context, .ok, #"{"done": \#(handler.quoted(fault.id)), "connection": \#(id)}"#)
            }
        }
    }

    private func quoted(_ text: String) -> String {
        var json = JSONWriter()
        json.string(nil, text)
        return json.output
    }

    private func send(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, error: String) {
        send(context, status, #"{"error": \#(quoted(error))}"#)
    }

    private func send(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ body: String) {
        let bytes = Array((body + "\n").utf8)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(bytes.count))
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: bytes)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
