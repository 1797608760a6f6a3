import CAres
import Foundation
import Glibc
import PinguinCheckerKit
import Synchronization

/// Runs every lookup of the process on one thread: c-ares channels (one per ``ResolverKey``,
/// created on first use and kept), poll(2) on the sockets they ask for, and a wakeup pipe that
/// brings new lookups in. Never a thread or a process per check.
final class DNSLookupLoop: Sendable {
    static let shared = DNSLookupLoop()

    private struct Inbox {
        var lookups: [DNSLookup] = []
        var started = false
    }

    private let inbox = Mutex(Inbox())
    /// The wakeup pipe: written by ``lookup(_:)``, read by the loop thread.
    private let wakeRead: Int32
    private let wakeWrite: Int32

    private init() {
        var descriptors: [Int32] = [-1, -1]
        guard pipe(&descriptors) == 0 else {
            fatalError("pinguin-check-dns: cannot create the wakeup pipe: \(String(cString: strerror(errno)))")
        }
        for descriptor in descriptors {
            _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        }
        wakeRead = descriptors[0]
        wakeWrite = descriptors[1]
    }

    /// Looks `lookup` up; returns when it is answered, fails, reaches its deadline or the task is
    /// cancelled.
    func lookup(_ lookup: DNSLookup) async -> DNSLookup.Result {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                lookup.wait(continuation)
                submit(lookup)
            }
        } onCancel: {
            lookup.finish(.cancelled)
        }
    }

    private func submit(_ lookup: DNSLookup) {
        let startThread = inbox.withLock { inbox in
            inbox.lookups.append(lookup)
            defer { inbox.started = true }
            return !inbox.started
        }
        if startThread {
            let thread = Thread { [self] in run() }
            thread.name = "pinguin-dns-loop"
            thread.start()
        }
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)   // EAGAIN means a wakeup is already pending
    }

    // MARK: The loop thread

    private func run() {
        ares_library_init(ARES_LIB_INIT_ALL)
        var channels: [ResolverKey: AresChannel] = [:]
        var deadlines = DeadlineHeap()
        var drain = [UInt8](repeating: 0, count: 256)
        while true {
            for lookup in inbox.withLock({ inbox in defer { inbox.lookups.removeAll(keepingCapacity: true) }; return inbox.lookups }) {
                guard !lookup.isFinished else { continue }
                let channel: AresChannel
                if let existing = channels[lookup.key] {
                    channel = existing
                } else {
                    do {
                        channel = try AresChannel(lookup.key)
                    } catch {
                        lookup.finish(.unavailable(error.description))
                        continue
                    }
                    channels[lookup.key] = channel
                }
                deadlines.insert(lookup)
                channel.query(name: lookup.name, type: lookup.type.rawValue, context: Unmanaged.passRetained(lookup).toOpaque(), callback: aresCallback)
            }

            // Lookups past their deadline end now; c-ares keeps retrying them until its own
            // timeout, and its callback then finds them finished.
            let now = ContinuousClock.now
            var wait = deadlines.expire(now: now)

            var descriptors = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            var owners: [AresChannel?] = [nil]
            for channel in channels.values {
                for socket in channel.sockets() {
                    descriptors.append(pollfd(fd: socket.descriptor, events: Int16(socket.read ? POLLIN : 0) | Int16(socket.write ? POLLOUT : 0), revents: 0))
                    owners.append(channel)
                }
                if let next = channel.nextTimeout() { wait = wait.map { min($0, next) } ?? next }
            }
            let timeout = wait.map { Int32(min(60_000, max(0, $0.wholeMillisecondsRoundedUp))) } ?? -1
            let ready = poll(&descriptors, nfds_t(descriptors.count), timeout)
            if ready < 0 && errno != EINTR {
                PluginLog.error("poll failed: \(String(cString: strerror(errno)))")
            }
            if descriptors[0].revents != 0 {
                while read(wakeRead, &drain, drain.count) > 0 {}
            }
            var processed = Set<ObjectIdentifier>()
            for index in descriptors.indices.dropFirst() where descriptors[index].revents != 0 {
                guard let channel = owners[index] else { continue }
                let events = descriptors[index].revents
                let readable = events & Int16(POLLIN | POLLERR | POLLHUP) != 0
                let writable = events & Int16(POLLOUT) != 0
                channel.process(read: readable ? descriptors[index].fd : -1, write: writable ? descriptors[index].fd : -1)
                processed.insert(ObjectIdentifier(channel))
            }
            // Timeouts of channels with no ready socket (process_fd handles them on every call).
            for channel in channels.values where !processed.contains(ObjectIdentifier(channel)) && channel.nextTimeout() != nil {
                channel.process(read: -1, write: -1)
            }
        }
    }
}

/// c-ares' completion callback: takes back the lookup passed in as `arg` and finishes it.
private let aresCallback: ares_callback = { argument, status, _, answer, length in
    guard let argument else { return }
    let lookup = Unmanaged<DNSLookup>.fromOpaque(argument).takeRetainedValue()
    if let answer, length > 0 {
        lookup.finish(.response(status: status, bytes: Array(UnsafeBufferPointer(start: answer, count: Int(length)))))
    } else {
        lookup.finish(.failed(status: status))
    }
}

/// The lookups in flight by deadline, so the loop knows how long it may sleep.
private struct DeadlineHeap {
    private var heap: [DNSLookup] = []

    mutating func insert(_ lookup: DNSLookup) {
        heap.append(lookup)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].deadline < heap[parent].deadline else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    /// Finishes the lookups whose deadline has passed, drops finished ones from the top, and
    /// says how long until the next deadline.
    mutating func expire(now: ContinuousClock.Instant) -> Duration? {
        while let first = heap.first {
            if first.deadline <= now {
                first.finish(.timedOut)
            } else if !first.isFinished {
                return now.duration(to: first.deadline)
            }
            removeFirst()
        }
        return nil
    }

    private mutating func removeFirst() {
        heap.swapAt(0, heap.count - 1)
        heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count, heap[left].deadline < heap[smallest].deadline { smallest = left }
            if right < heap.count, heap[right].deadline < heap[smallest].deadline { smallest = right }
            guard smallest != parent else { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}

extension Duration {
    /// Whole milliseconds, rounded up, so a poll never wakes just before a deadline.
    var wholeMillisecondsRoundedUp: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    }
}
