import Glibc
import NIOCore
import NIOSSL
import NIOTLS

/// Why the connection stopped giving us what we waited for.
enum ProbeFailure: Error {
    case timeout
    case closed
    case reset
    case tls(any Error)
    case io(any Error)
}

/// The last handler of a probe's pipeline: keeps what the server sent (the banner, the bytes since
/// the last expect), when the first byte came, how the connection ended, and at most one waiter.
///
/// `@unchecked Sendable`: every stored property is read and written on `eventLoop` only; the
/// public methods hop onto it first.
final class ProbeHandler: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer

    /// Decides whether `unread` satisfies a waiter; returns how many bytes it used up.
    typealias Matcher = @Sendable ([UInt8]) -> Int?

    private struct Waiter {
        var matcher: Matcher?
        var promise: EventLoopPromise<Void>
        var timer: Scheduled<Void>?
    }

    static let maximumUnread = 65_536

    let eventLoop: any EventLoop
    let bannerLimit: Int
    private(set) var banner: [UInt8] = []
    /// Received since the last satisfied expect (capped: the oldest bytes go).
    private(set) var unread: [UInt8] = []
    private(set) var received = 0
    private(set) var firstByteAt: NIODeadline?
    private var ended: ProbeFailure?
    private var waiter: Waiter?
    private var handshake: EventLoopPromise<Void>?
    private var handshakeDone = false

    init(eventLoop: any EventLoop, bannerLimit: Int) {
        self.eventLoop = eventLoop
        self.bannerLimit = bannerLimit
    }

    // MARK: Events

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let bytes = buffer.readableBytesView
        if firstByteAt == nil { firstByteAt = .now() }
        received += bytes.count
        if banner.count < bannerLimit { banner.append(contentsOf: bytes.prefix(bannerLimit - banner.count)) }
        unread.append(contentsOf: bytes)
        if unread.count > Self.maximumUnread { unread.removeFirst(unread.count - Self.maximumUnread) }
        evaluate()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            handshakeDone = true
            handshake?.succeed()
            handshake = nil
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let failure: ProbeFailure
        if let error = error as? IOError, error.errnoCode == ECONNRESET {
            failure = .reset
        } else if error is NIOSSLError || error is NIOSSLExtraError || error is BoringSSLError {
            failure = handshakeDone ? .io(error) : .tls(error)
        } else {
            failure = .io(error)
        }
        end(failure)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        end(.closed)
        context.fireChannelInactive()
    }

    private func end(_ failure: ProbeFailure) {
        if ended == nil { ended = failure }
        if let handshake { self.handshake = nil; handshake.fail(ended!) }
        evaluate()
    }

    private func evaluate() {
        guard let current = waiter else { return }
        if let matcher = current.matcher {
            if let used = matcher(unread) {
                unread.removeFirst(min(used, unread.count))
                finish(.success(()))
                return
            }
        } else if !unread.isEmpty {
            finish(.success(()))
            return
        }
        if let ended { finish(.failure(ended)) }
    }

    private func finish(_ result: Result<Void, ProbeFailure>) {
        guard let current = waiter else { return }
        waiter = nil
        current.timer?.cancel()
        current.promise.completeWith(result.mapError { $0 as any Error })
    }

    // MARK: Waiting (any thread)

    /// Succeeds once `matcher` accepts the unread bytes (nil: once any byte arrived); fails with
    /// a `ProbeFailure` on timeout, close, reset or error.
    func wait(for matcher: Matcher?, timeout: TimeAmount) -> EventLoopFuture<Void> {
        eventLoop.flatSubmit {
            let promise = self.eventLoop.makePromise(of: Void.self)
            precondition(self.waiter == nil, "one waiter at a time")
            let timer = self.eventLoop.scheduleTask(in: timeout) { self.finish(.failure(.timeout)) }
            self.waiter = Waiter(matcher: matcher, promise: promise, timer: timer)
            self.evaluate()
            return promise.futureResult
        }
    }

    /// Succeeds when the TLS handshake completes; fails with `.timeout` after `timeout`.
    func handshakeCompleted(timeout: TimeAmount) -> EventLoopFuture<Void> {
        eventLoop.flatSubmit {
            if self.handshakeDone { return self.eventLoop.makeSucceededVoidFuture() }
            if let ended = self.ended { return self.eventLoop.makeFailedFuture(ended) }
            let promise = self.eventLoop.makePromise(of: Void.self)
            self.handshake = promise
            let timer = self.eventLoop.scheduleTask(in: timeout) {
                if let handshake = self.handshake { self.handshake = nil; handshake.fail(ProbeFailure.timeout) }
            }
            promise.futureResult.whenComplete { _ in timer.cancel() }
            return promise.futureResult
        }
    }

    /// The banner, the unread bytes and the first byte's time, read on the loop.
    func snapshot() -> EventLoopFuture<(banner: [UInt8], unread: [UInt8], received: Int, firstByteAt: NIODeadline?)> {
        eventLoop.submit { (self.banner, self.unread, self.received, self.firstByteAt) }
    }
}
