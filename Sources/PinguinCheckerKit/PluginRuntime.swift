import Dispatch
import Foundation
import PinguinWire
import Synchronization

/// Owns a plugin process's I/O and performs what ``CheckerSession`` decides: a reader thread on
/// stdin, a writer thread on stdout, a deadline thread, and one task per check.
final class PluginRuntime: Sendable {
    typealias Check = @Sendable (CheckRequest) async throws -> CheckOutcome
    typealias Serial = CheckerSession.Serial

    private struct State {
        var session: CheckerSession
        var tasks: [Serial: Task<Void, Never>] = [:]
    }

    /// What to do once the state lock is released.
    private struct Followup {
        var cancelled: [Task<Void, Never>] = []
        var deadlines: [(ContinuousClock.Instant, Serial)] = []
        var finish = false
        var maximumLineBytes = 0
    }

    static let maximumInputLineBytes = 1 << 20
    /// Larger `details` are refused (check-run-result.json).
    static let maximumDetailsBytes = 64 << 10

    private let check: Check
    private let state: Mutex<State>
    private let writer = OutputWriter(descriptor: 1)
    private let timer = DeadlineTimer()
    private let finished = DispatchSemaphore(value: 0)

    init(plugin: PluginDescription, check: @escaping Check) {
        self.check = check
        state = Mutex(State(session: CheckerSession(plugin: plugin)))
    }

    /// Serves stdin and stdout until stdin ends and every answer is written, then exits 0.
    func run() -> Never {
        writer.start()
        timer.start { [self] serials in
            var output: [UInt8] = []
            let followup = apply(into: &output) { state, actions in
                for serial in serials { state.session.deadlinePassed(serial, into: &actions) }
            }
            complete(followup, output)
        }
        let reader = Thread { [self] in readLoop() }
        reader.name = "pinguin-plugin-reader"
        reader.start()
        // The main thread stays free for the main actor.
        dispatchMain()
    }

    // MARK: Input

    private func readLoop() -> Never {
        var framer = LineFramer(maximumLineBytes: Self.maximumInputLineBytes)
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        var output: [UInt8] = []
        while true {
            let count = read(0, chunk.baseAddress, chunk.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            handle(framer.feed(UnsafeRawBufferPointer(rebasing: chunk[0..<count])), output: &output)
        }
        handle(framer.finish(), output: &output)
        output.removeAll()
        let followup = apply(into: &output) { state, actions in state.session.inputEnded(into: &actions) }
        complete(followup, output)
        finished.wait()
        writer.closeAndWait()
        exit(0)
    }

    /// Handles the lines of one read: decoded outside the lock, then taken by the session in one
    /// go; answers written here (handshake, ping, refusals) go out together.
    private func handle(_ frames: [LineFramer.Frame], output: inout [UInt8]) {
        guard !frames.isEmpty else { return }
        output.removeAll(keepingCapacity: true)
        let lines = frames.map { frame -> JSONRPCIncoming? in
            if case .line(let line) = frame { JSONRPCDecoder.decode(line) } else { nil }
        }
        let now = ContinuousClock.now
        let nowWall = Date().timeIntervalSince1970
        let followup = apply(into: &output) { state, actions in
            for line in lines {
                if let line {
                    state.session.received(line, now: now, nowWall: nowWall, into: &actions)
                } else {
                    state.session.receivedOversizedLine(into: &actions)
                }
            }
        }
        complete(followup, output)
    }

    // MARK: Checks

    private func start(_ serial: Serial, _ request: CheckRequest) -> Task<Void, Never> {
        Task { [self, check] in
            let started = ContinuousClock.now
            let result: Result<CheckOutcome, any Error>
            do {
                result = .success(try await check(request))
            } catch {
                result = .failure(error)
            }
            let elapsed = started.duration(to: .now)
            var output: [UInt8] = []
            let followup = apply(into: &output) { state, actions in
                state.tasks[serial] = nil
                state.session.finished(serial, result, elapsed: elapsed, into: &actions)
            }
            complete(followup, output)
        }
    }

    // MARK: Actions

    /// Runs events through the session under the lock, then starts checks and encodes answers
    /// into `output` outside it (creating a task wakes a pool thread: not a thing to do holding it).
    private func apply(into output: inout [UInt8], _ event: (inout State, inout [CheckerSession.Action]) -> Void) -> Followup {
        var actions: [CheckerSession.Action] = []
        var followup = Followup()
        state.withLock { state in
            event(&state, &actions)
            for action in actions {
                if case .cancel(let serial) = action, let task = state.tasks[serial] { followup.cancelled.append(task) }
            }
            followup.maximumLineBytes = state.session.maximumLineBytes
        }
        var started: [(Serial, Task<Void, Never>)] = []
        for action in actions {
            switch action {
            case .answer(let id, let answer):
                encode(id, answer, maximumLineBytes: followup.maximumLineBytes, into: &output)
            case .start(let serial, let request):
                started.append((serial, start(serial, request)))
            case .watchDeadline(let serial, let deadline):
                followup.deadlines.append((deadline, serial))
            case .finish:
                followup.finish = true
            case .cancel:
                break
            }
        }
        guard !started.isEmpty else { return followup }
        state.withLock { state in
            for (serial, task) in started {
                // A check may have finished already (nothing to keep), or been stopped before its
                // task was known (cancel it now).
                switch state.session.phase(of: serial) {
                case nil: continue
                case .waiting, .running: state.tasks[serial] = task
                case .stopped:
                    state.tasks[serial] = task
                    followup.cancelled.append(task)
                }
            }
        }
        return followup
    }

    /// Answers go out before the process may finish; tasks are cancelled outside the lock, since
    /// cancellation runs the checker's handlers synchronously.
    private func complete(_ followup: Followup, _ output: [UInt8]) {
        writer.enqueue(output)
        timer.watch(followup.deadlines)
        for task in followup.cancelled { task.cancel() }
        if followup.finish { finished.signal() }
    }

    private func encode(_ id: JSONRPCID, _ answer: CheckerSession.Answer, maximumLineBytes: Int, into output: inout [UInt8]) {
        let start = output.count
        switch answer {
        case .result(let value):
            JSONWriter.write(JSONRPCResponse.success(id: id, result: value), into: &output)
        case .error(let error):
            JSONWriter.write(JSONRPCResponse.failure(id: id, error: error), into: &output)
        case .outcome(let outcome, let measuredLatency):
            JSONWriter.write(JSONRPCResponse.success(id: id, result: outcome.resultValue(measuredLatency: measuredLatency)), into: &output)
            let length = output.count - start
            if length > Self.maximumDetailsBytes, JSONWriter.bytes(.object(outcome.details)).count > Self.maximumDetailsBytes {
                output.removeSubrange(start...)
                let error = JSONRPCError(code: JSONRPCError.internalErrorCode, message: "the check's details are larger than 64 KiB", kind: "result_too_large")
                JSONWriter.write(JSONRPCResponse.failure(id: id, error: error), into: &output)
            }
        }
        if output.count - start > maximumLineBytes {
            output.removeSubrange(start...)
            let error = JSONRPCError(code: JSONRPCError.internalErrorCode, message: "the answer is longer than the supervisor's line limit", kind: "result_too_large")
            JSONWriter.write(JSONRPCResponse.failure(id: id, error: error), into: &output)
        }
        output.append(0x0A)
    }
}
