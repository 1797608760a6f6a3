import Synchronization

/// One check's packets: when each was sent and when (if) its reply came.
final class PingRun: Sendable {
    private struct State {
        var sentAt: [UInt64?]
        var rtts: [UInt64?]
        var duplicates = 0
        var expected = 0
        var received = 0
        var waiting: CheckedContinuation<Void, Never>?
        var finished = false
    }

    private let state: Mutex<State>

    init(count: Int) {
        state = Mutex(State(sentAt: Array(repeating: nil, count: count), rtts: Array(repeating: nil, count: count)))
    }

    func sent(index: Int, at: UInt64) {
        state.withLock { $0.sentAt[index] = at; $0.expected += 1 }
    }

    /// The packet could not be sent after all: it is neither sent nor lost.
    func unsent(index: Int) {
        state.withLock { $0.sentAt[index] = nil; $0.expected -= 1 }
    }

    func reply(index: Int, at: UInt64) {
        let resume = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.finished, let sentAt = state.sentAt[index] else { return nil }
            if state.rtts[index] != nil { state.duplicates += 1; return nil }
            state.rtts[index] = at >= sentAt ? at - sentAt : 0
            state.received += 1
            guard state.received == state.expected, let waiting = state.waiting else { return nil }
            state.waiting = nil
            return waiting
        }
        resume?.resume()
    }

    /// Returns once every sent packet has its reply or `finish()` was called.
    func waitForReplies() async {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> Bool in
                if state.finished || state.received == state.expected { return true }
                state.waiting = continuation
                return false
            }
            if now { continuation.resume() }
        }
    }

    func finish() {
        let resume = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.finished = true
            defer { state.waiting = nil }
            return state.waiting
        }
        resume?.resume()
    }

    var results: (rtts: [UInt64?], sent: Int, duplicates: Int) {
        state.withLock { ($0.rtts, $0.expected, $0.duplicates) }
    }
}
