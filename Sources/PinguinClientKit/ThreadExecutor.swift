import Foundation

/// A serial executor backed by one dedicated OS thread.
///
/// Blocking C calls (libpq, hiredis) must never run on Swift's cooperative pool, which has
/// one thread per core (two here). An actor whose `unownedExecutor` is a `ThreadExecutor`
/// runs every isolated method on this thread, so its blocking calls stall only itself, and the
/// compiler checks that the C handle it owns is touched from nowhere else.
///
/// The thread keeps the executor alive until ``shutdown()``; the owning actor calls it from
/// its `deinit`, when no further job can be enqueued.
public final class ThreadExecutor: SerialExecutor, @unchecked Sendable {
    // @unchecked: `queue`, `head` and `stopping` are only read or written while `condition` is locked.
    private let condition = NSCondition()
    private var queue: [UnownedJob] = []
    private var head = 0
    private var stopping = false
    private var thread: pthread_t?

    /// A name for logs and debugging.
    public let name: String

    public init(name: String) {
        self.name = name
        let thread = Thread { [self] in
            self.runLoop()
        }
        thread.name = name
        thread.start()
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        queue.append(job)
        condition.signal()
        condition.unlock()
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    /// Lets the thread finish the jobs already queued and then exit. Never blocks.
    public func shutdown() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    /// Whether the caller runs on this executor's thread.
    public var isCurrentThread: Bool {
        condition.lock()
        defer { condition.unlock() }
        guard let thread else { return false }
        return pthread_equal(thread, pthread_self()) != 0
    }

    private func runLoop() {
        condition.lock()
        thread = pthread_self()
        condition.unlock()
        let executor = asUnownedSerialExecutor()
        while true {
            condition.lock()
            while head == queue.count && !stopping {
                condition.wait()
            }
            if head == queue.count {
                condition.unlock()
                return
            }
            let job = queue[head]
            head += 1
            if head == queue.count {
                queue.removeAll(keepingCapacity: true)
                head = 0
            } else if head > 1024 && head * 2 > queue.count {
                queue.removeFirst(head)
                head = 0
            }
            condition.unlock()
            job.runSynchronously(on: executor)
        }
    }
}
