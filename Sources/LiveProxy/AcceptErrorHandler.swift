import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Counts and logs what accepting clients fails with on the listening channel: running out of
/// descriptors (EMFILE, ENFILE) foremost. Sits after NIO's `AcceptBackoffHandler`, which
/// pauses accepting briefly on such an error instead of retrying at once in a busy loop,
/// and never stops it for good.
final class AcceptErrorHandler: ChannelInboundHandler {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    private let outOfDescriptors: (Int32) -> Void

    init(outOfDescriptors: @escaping (Int32) -> Void) {
        self.outOfDescriptors = outOfDescriptors
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let io = error as? IOError, io.errnoCode == EMFILE || io.errnoCode == ENFILE {
            outOfDescriptors(io.errnoCode)
            return
        }
        context.fireErrorCaught(error)
    }
}
