import Synchronization

/// The write side of one connection, shared by answers and event notifications, with
/// back-pressure: at most ``maximumPendingAnswers`` answers and ``maximumPendingNotifications``
/// notifications may wait for the socket. Beyond that, a request's task waits before queuing its
/// answer (so it keeps its in-flight slot, and reading from the connection pauses), and a
/// subscription's pump waits (its own bounded queue then drops the oldest events and says so).
/// A peer that sends without reading therefore costs a bounded amount of memory until the write
/// timeout closes its connection.
public final class ConnectionOutbound: Sendable {
    /// A line to write, and whether it is a notification.
    struct Line: Sendable {
        var bytes: [UInt8]
        var isNotification: Bool
    }

    public static let maximumPendingAnswers = 64
    public static let maximumPendingNotifications = 64

    private struct Lane {
        var pending = 0
        var waiters: [CheckedContinuation<Bool, Never>] = []
    }

    private struct State {
        var answers = Lane()
        var notifications = Lane()
        var closed = false
    }

    private let sink: AsyncStream<Line>.Continuation
    private let state = Mutex(State())

    init(sink: AsyncStream<Line>.Continuation) {
        self.sink = sink
    }

    /// Queues an answer line, waiting while too many are unwritten. False once the connection is closed.
    @discardableResult
    func answer(_ bytes: [UInt8]) async -> Bool {
        await send(Line(bytes: bytes, isNotification: false))
    }

    /// Queues a final line (an error before closing) without waiting.
    func answerNow(_ bytes: [UInt8]) {
        state.withLock { $0.answers.pending += 1 }
        sink.yield(Line(bytes: bytes, isNotification: false))
    }

    /// Queues a notification line, waiting while too many are unwritten. False once the connection is closed.
    public func notify(_ bytes: [UInt8]) async -> Bool {
        await send(Line(bytes: bytes, isNotification: true))
    }

    private func send(_ line: Line) async -> Bool {
        let limit = line.isNotification ? Self.maximumPendingNotifications : Self.maximumPendingAnswers
        let lane = line.isNotification ? \State.notifications : \State.answers
        let admitted = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let ready: Bool? = state.withLock { state in
                if state.closed { return false }
                if state[keyPath: lane].pending < limit {
                    state[keyPath: lane].pending += 1
                    return true
                }
                state[keyPath: lane].waiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
        guard admitted else { return false }
        if case .terminated = sink.yield(line) {
            close()
            return false
        }
        return true
    }

    /// The writer wrote a line: let one waiting sender of its kind go on.
    func written(_ line: Line) {
        let lane = line.isNotification ? \State.notifications : \State.answers
        let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            guard !state[keyPath: lane].waiters.isEmpty else {
                state[keyPath: lane].pending -= 1
                return nil
            }
            return state[keyPath: lane].waiters.removeFirst()  // its slot replaces the written one
        }
        waiter?.resume(returning: true)
    }

    /// No more writes: waiting senders are released with false.
    func close() {
        let waiters = state.withLock { state in
            state.closed = true
            defer {
                state.answers.waiters = []
                state.notifications.waiters = []
            }
            return state.answers.waiters + state.notifications.waiters
        }
        waiters.forEach { $0.resume(returning: false) }
        sink.finish()
    }

    /// How many notification lines wait for the socket.
    public var pendingNotifications: Int { state.withLock { $0.notifications.pending } }
}
