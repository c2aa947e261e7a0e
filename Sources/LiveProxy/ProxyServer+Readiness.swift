import MetricsReporting
import NIOCore
import NIOPosix

/// The proxy is ready while it listens and the upstream accepts a TCP connection within 2 s.
extension ProxyServer: ReadinessCheck {
    public func checkReadiness(on eventLoop: any EventLoop) -> EventLoopFuture<Readiness> {
        guard isListening else { return eventLoop.makeSucceededFuture(Readiness(ready: false, detail: "not listening")) }
        let upstream = configuration.upstream
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(.seconds(2))
            .connect(host: upstream.host, port: upstream.port)
            .map { channel in
                channel.close(promise: nil)
                return Readiness(ready: true, detail: "ready: listening, upstream \(upstream) reachable")
            }
            .recover { error in
                Readiness(ready: false, detail: "not ready: upstream \(upstream) unreachable: \(ProxyServer.describe(error))")
            }
    }
}
