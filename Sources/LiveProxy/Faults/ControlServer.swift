import FaultInjection
import NIOCore
import NIOHTTP1
import NIOPosix

/// `--control HOST:PORT`: the fault injection API (JSON over HTTP, the schema of `--faults`).
///
/// - `GET /faults`: the faults in force, with how many connections each was given to;
/// - `POST /faults`: adds one fault, or `{"faults": [...]}`;
/// - `DELETE /faults/ID`: removes a fault for connections to come;
/// - `GET /connections`: the open connections;
/// - `POST /connections/N`: does a fault (its action; `match` and triggers do not apply) to
///   connection N now.
///
/// Bad input gets 400 with the reason. Off unless asked: it lets anyone who reaches it
/// alter traffic.
public final class ControlServer: Sendable {
    private let channel: any Channel

    /// Request bodies larger than this are refused (413): 64 KiB holds far more faults than
    /// `FaultParser.maxFaults` sensible ones.
    static let maxBodySize = 64 * 1024

    public init(host: String, port: Int, proxy: ProxyServer, book: FaultBook) throws {
        let bootstrap = ServerBootstrap(group: proxy.eventLoopGroup)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(ControlHandler(proxy: proxy, book: book))
                }
            }
        channel = try bootstrap.bind(host: host, port: port).wait()
    }

    public var localAddress: SocketAddress? { channel.localAddress }

    public func close() {
        channel.close(promise: nil)
    }
}
