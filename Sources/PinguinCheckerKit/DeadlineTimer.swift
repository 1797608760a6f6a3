import Foundation

/// One thread that calls `expired` for each watched check whose deadline has come. Entries are
/// never removed early: a check that finished in time is simply unknown by then.
final class DeadlineTimer: @unchecked Sendable {
    // @unchecked: `heap`, `wakeAt` and `woken` are used only with `condition` locked.
    private let condition = NSCondition()
    private var heap = DeadlineHeap()
    /// When the thread means to wake next (nil: it waits for a new entry).
    private var wakeAt: ContinuousClock.Instant?
    private var woken = false
    /// Starts the thread; `expired` gets the serials whose deadline came, on that thread.
    func start(expired: @escaping @Sendable ([UInt64]) -> Void) {
        let thread = Thread { [self] in loop(expired) }
        thread.name = "pinguin-plugin-deadlines"
        thread.start()
    }

    func watch(_ entries: [(ContinuousClock.Instant, UInt64)]) {
        guard !entries.isEmpty else { return }
        condition.lock()
        var earliest = entries[0].0
        for (deadline, serial) in entries {
            heap.push(deadline, serial)
            earliest = min(earliest, deadline)
        }
        // Deadlines mostly come in increasing order, so the thread rarely needs waking.
        if wakeAt.map({ earliest < $0 }) ?? true {
            woken = true
            condition.signal()
        }
        condition.unlock()
    }

    private func loop(_ expired: @Sendable ([UInt64]) -> Void) {
        let clock = ContinuousClock()
        var due: [UInt64] = []
        while true {
            condition.lock()
            while true {
                let now = clock.now
                while let top = heap.top, top.deadline <= now {
                    due.append(top.serial)
                    heap.pop()
                }
                if !due.isEmpty { break }
                woken = false
                wakeAt = heap.top?.deadline
                if let wakeAt {
                    let seconds = now.duration(to: wakeAt).milliseconds / 1000
                    _ = condition.wait(until: Date(timeIntervalSinceNow: seconds + 0.000_5))
                } else {
                    while !woken { condition.wait() }
                }
            }
            wakeAt = nil
            condition.unlock()
            expired(due)
            due.removeAll(keepingCapacity: true)
        }
    }
}

/// A binary min-heap of (deadline, serial).
struct DeadlineHeap {
    private var entries: [(deadline: ContinuousClock.Instant, serial: UInt64)] = []

    var top: (deadline: ContinuousClock.Instant, serial: UInt64)? { entries.first }

    mutating func push(_ deadline: ContinuousClock.Instant, _ serial: UInt64) {
        entries.append((deadline, serial))
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child].deadline < entries[parent].deadline else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() {
        guard entries.count > 1 else {
            entries.removeAll(keepingCapacity: true)
            return
        }
        entries[0] = entries.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < entries.count, entries[left].deadline < entries[smallest].deadline { smallest = left }
            if right < entries.count, entries[right].deadline < entries[smallest].deadline { smallest = right }
            if smallest == parent { return }
            entries.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
