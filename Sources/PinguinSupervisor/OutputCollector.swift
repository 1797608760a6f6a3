import NIOCore
import NIOPosix

/// Reads a pipe to its end, keeping the first `limit` bytes and discarding the rest (so a
/// chatty child never blocks on a full pipe and never fills our memory).
final class OutputCollector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let limit: Int
    private var kept: [UInt8] = []
    private var discarded = 0
    private let done: EventLoopPromise<(bytes: [UInt8], discarded: Int)>

    init(limit: Int, done: EventLoopPromise<(bytes: [UInt8], discarded: Int)>) {
        self.limit = limit
        self.done = done
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let room = limit - kept.count
        if room > 0 {
            kept += buffer.readableBytesView.prefix(room)
        }
        discarded += max(0, buffer.readableBytes - max(0, room))
    }

    func channelInactive(context: ChannelHandlerContext) {
        done.succeed((kept, discarded))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Collects everything `descriptor` yields until end of file; the channel owns the descriptor.
    static func collect(_ descriptor: Int32, limit: Int) async throws -> (channel: any Channel, result: EventLoopFuture<(bytes: [UInt8], discarded: Int)>) {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let promise = loop.makePromise(of: (bytes: [UInt8], discarded: Int).self)
        do {
            let channel = try await NIOPipeBootstrap(group: loop)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(OutputCollector(limit: limit, done: promise))
                    }
                }
                .takingOwnershipOfDescriptor(input: descriptor).get()
            return (channel, promise.futureResult)
        } catch {
            promise.fail(error)
            throw error
        }
    }
}
