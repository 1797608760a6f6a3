import PinguinDNS
import Synchronization

/// One lookup handed to the ``DNSLookupLoop``, finished exactly once: by c-ares' callback, by its
/// own deadline, or by the check's cancellation, whichever comes first.
final class DNSLookup: Sendable {
    enum Result: Sendable {
        /// c-ares' status with the response bytes (with NOCHECKRESP also for NXDOMAIN, SERVFAIL…).
        case response(status: Int32, bytes: [UInt8])
        /// No response: c-ares' status (ARES_ETIMEOUT, ARES_ECONNREFUSED…).
        case failed(status: Int32)
        /// The lookup's own deadline passed first.
        case timedOut
        case cancelled
        /// No channel for the resolver (a plugin-side problem).
        case unavailable(String)
    }

    private enum State {
        case idle
        case waiting(CheckedContinuation<Result, Never>)
        case early(Result)
        case done
    }

    let name: String
    let type: DNSRecordType
    let key: ResolverKey
    let deadline: ContinuousClock.Instant
    private let state = Mutex(State.idle)

    init(name: String, type: DNSRecordType, key: ResolverKey, deadline: ContinuousClock.Instant) {
        self.name = name
        self.type = type
        self.key = key
        self.deadline = deadline
    }

    /// Resumes `continuation` with the result, now or once there is one.
    func wait(_ continuation: CheckedContinuation<Result, Never>) {
        let early: Result? = state.withLock { state in
            switch state {
            case .idle:
                state = .waiting(continuation)
                return nil
            case .early(let result):
                state = .done
                return result
            case .waiting, .done:
                return .cancelled
            }
        }
        if let early { continuation.resume(returning: early) }
    }

    /// The first call wins; later ones do nothing.
    func finish(_ result: Result) {
        let continuation: CheckedContinuation<Result, Never>? = state.withLock { state in
            switch state {
            case .idle:
                state = .early(result)
                return nil
            case .waiting(let continuation):
                state = .done
                return continuation
            case .early, .done:
                return nil
            }
        }
        continuation?.resume(returning: result)
    }

    var isFinished: Bool {
        state.withLock { state in
            switch state {
            case .idle, .waiting: false
            case .early, .done: true
            }
        }
    }
}
