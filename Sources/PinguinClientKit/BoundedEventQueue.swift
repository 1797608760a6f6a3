import Synchronization

/// A single-consumer queue that never grows past `capacity`: when the consumer falls behind, the
/// oldest elements are dropped and counted, and the consumer is told exactly how many before it
/// gets the next element. Producers never block and never wait for the consumer.
public final class BoundedEventQueue<Element: Sendable>: AsyncSequence, Sendable {
    /// What the consumer receives.
    public enum Event: Sendable {
        case element(Element)
        /// This many elements were dropped since the previous event.
        case overflow(dropped: Int)
    }

    public let capacity: Int
    private let state: Mutex<State>

    private struct State {
        var buffer: [Element] = []
        var head = 0
        var dropped = 0
        var finished = false
        var waiter: CheckedContinuation<Event?, Never>?
        var onFinish: (@Sendable () -> Void)?
    }

    public init(capacity: Int) {
        precondition(capacity > 0, "a queue needs room for one element")
        self.capacity = capacity
        state = Mutex(State())
    }

    /// Called once, when the queue is finished by either side.
    public func setOnFinish(_ action: @escaping @Sendable () -> Void) {
        state.withLock { $0.onFinish = action }
    }

    /// Adds an element; returns false once the queue is finished.
    @discardableResult
    public func push(_ element: Element) -> Bool {
        let waiter = state.withLock { state -> CheckedContinuation<Event?, Never>? in
            guard !state.finished else { return nil }
            if let waiter = state.waiter, state.dropped == 0, state.head == state.buffer.count {
                state.waiter = nil
                return waiter
            }
            state.buffer.append(element)
            if state.buffer.count - state.head > capacity {
                state.head += 1
                state.dropped += 1
            }
            if state.head > capacity {
                state.buffer.removeFirst(state.head)
                state.head = 0
            }
            return nil
        }
        if let waiter {
            waiter.resume(returning: .element(element))
            return true
        }
        return !state.withLock { $0.finished }
    }

    /// Ends the sequence: the consumer gets what is buffered, then nil.
    public func finish() {
        let (waiter, action) = state.withLock { state -> (CheckedContinuation<Event?, Never>?, (@Sendable () -> Void)?) in
            guard !state.finished else { return (nil, nil) }
            state.finished = true
            defer {
                state.waiter = nil
                state.onFinish = nil
            }
            return (state.waiter, state.onFinish)
        }
        waiter?.resume(returning: nil)
        action?()
    }

    /// The next event, waiting if there is none; nil after `finish()` once the buffer is drained.
    public func next() async -> Event? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Event?, Never>) in
                let ready: Event?? = state.withLock { state in
                    if state.dropped > 0 {
                        defer { state.dropped = 0 }
                        return .some(.overflow(dropped: state.dropped))
                    }
                    if state.head < state.buffer.count {
                        defer { state.head += 1 }
                        return .some(.element(state.buffer[state.head]))
                    }
                    if state.finished || Task.isCancelled { return .some(nil) }
                    state.waiter = continuation
                    return .none
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            finish()
        }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let queue: BoundedEventQueue
        public mutating func next() async -> Event? {
            await queue.next()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(queue: self)
    }
}
