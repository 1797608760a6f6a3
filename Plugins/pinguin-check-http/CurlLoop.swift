import CCurl
import Foundation
import PinguinCheckerKit
import Synchronization

/// The plugin's one event loop: a thread of its own drives a single curl multi handle, on which
/// every check in flight is an easy handle. Checks hand their handle over with ``run(_:)`` and
/// get it back, finished, through a continuation; nothing blocks the cooperative pool.
final class CurlLoop: Sendable {
    private let multi = CurlMulti()
    private let state = Mutex(State())

    private struct Transfer {
        var easy: CurlEasy
        var continuation: CheckedContinuation<CURLcode, Never>
    }

    private struct State {
        var next: UInt64 = 0
        /// Handed over, not yet added to the multi handle (by the loop thread).
        var submitted: [UInt64: Transfer] = [:]
        /// In the multi handle, by id; `byHandle` maps the easy handle back to its id.
        var active: [UInt64: Transfer] = [:]
        var byHandle: [UInt: UInt64] = [:]
        var cancelled: [UInt64] = []
        /// Cancelled before they were handed over.
        var cancelledEarly: Set<UInt64> = []
        var started = false
    }

    /// Returned for a transfer that was cancelled before it finished.
    static let cancelledCode = CURLE_ABORTED_BY_CALLBACK

    init() {
        // Connections are never shared between checks unless a check asks (`fresh_connection: false`),
        // and then the multi handle's cache is where they live.
        multi.setOption(CURLMOPT_MAXCONNECTS, 256)
    }

    /// Runs one transfer to its end; cancelling the task removes it from the loop at once.
    func run(_ easy: CurlEasy) async -> CURLcode {
        let id = state.withLock { state in
            state.next += 1
            return state.next
        }
        startIfNeeded()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let early = state.withLock { state in
                    if state.cancelledEarly.remove(id) != nil { return true }
                    state.submitted[id] = Transfer(easy: easy, continuation: continuation)
                    return false
                }
                if early { continuation.resume(returning: Self.cancelledCode) } else { multi.wakeup() }
            }
        } onCancel: {
            let waiting = state.withLock { state -> Transfer? in
                if let transfer = state.submitted.removeValue(forKey: id) { return transfer }
                if state.active[id] != nil { state.cancelled.append(id) } else { state.cancelledEarly.insert(id) }
                return nil
            }
            if let waiting { waiting.continuation.resume(returning: Self.cancelledCode) } else { multi.wakeup() }
        }
    }

    private func startIfNeeded() {
        let start = state.withLock { state in
            defer { state.started = true }
            return !state.started
        }
        guard start else { return }
        let thread = Thread { [self] in loop() }
        thread.name = "curl-loop"
        thread.start()
    }

    private func loop() {
        while true {
            addSubmittedAndRemoveCancelled()
            multi.perform()
            while let (handle, result) = multi.nextDone() {
                finish(handle: handle, result: result)
            }
            multi.poll(milliseconds: 1000)
        }
    }

    private func addSubmittedAndRemoveCancelled() {
        // Submitted transfers become active under the same lock that a cancel takes, so a cancel
        // always finds its transfer in one of the two places.
        let (submitted, cancelled) = state.withLock { state in
            defer { state.submitted = [:]; state.cancelled = [] }
            for (id, transfer) in state.submitted {
                state.active[id] = transfer
                state.byHandle[UInt(bitPattern: transfer.easy.handle)] = id
            }
            return (state.submitted, state.cancelled)
        }
        for (id, transfer) in submitted {
            let code = multi.add(transfer.easy)
            guard code != CURLM_OK else { continue }
            PluginLog.error("curl_multi_add_handle failed: \(String(cString: curl_multi_strerror(code)))")
            let removed = state.withLock { state -> Bool in
                state.byHandle[UInt(bitPattern: transfer.easy.handle)] = nil
                return state.active.removeValue(forKey: id) != nil
            }
            if removed { transfer.continuation.resume(returning: CURLE_FAILED_INIT) }
        }
        for id in cancelled {
            // A cancel can overtake its own submission (both are drained here, submission first).
            let transfer = state.withLock { state -> Transfer? in
                guard let transfer = state.active.removeValue(forKey: id) else { return nil }
                state.byHandle[UInt(bitPattern: transfer.easy.handle)] = nil
                return transfer
            }
            guard let transfer else { continue }
            multi.remove(transfer.easy)
            transfer.continuation.resume(returning: Self.cancelledCode)
        }
    }

    private func finish(handle: UnsafeMutableRawPointer, result: CURLcode) {
        let transfer = state.withLock { state -> Transfer? in
            guard let id = state.byHandle.removeValue(forKey: UInt(bitPattern: handle)) else { return nil }
            return state.active.removeValue(forKey: id)
        }
        guard let transfer else { return }
        multi.remove(transfer.easy)
        transfer.continuation.resume(returning: result)
    }
}
