import NIOCore
import PinguinWire

/// Splits what a plugin writes on one of its pipes into lines and hands each read's lines to
/// `onFrames` at once, on the channel's event loop; `onEnd` runs once when the pipe closes (end
/// of file or an error).
final class LineChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private var framer: LineFramer
    private let onFrames: ([LineFramer.Frame]) -> Void
    private let onEnd: () -> Void
    private var ended = false

    init(maximumLineBytes: Int, onFrames: @escaping ([LineFramer.Frame]) -> Void, onEnd: @escaping () -> Void) {
        framer = LineFramer(maximumLineBytes: maximumLineBytes)
        self.onFrames = onFrames
        self.onEnd = onEnd
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let frames = buffer.withUnsafeReadableBytes { framer.feed($0) }
        if !frames.isEmpty && !ended { onFrames(frames) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        end()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func end() {
        guard !ended else { return }
        let frames = framer.finish()
        if !frames.isEmpty { onFrames(frames) }
        ended = true
        onEnd()
    }
}
