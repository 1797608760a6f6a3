public import Logging
public import NIOCore
import NIOPosix
public import PinguinWire
import Synchronization

/// One running plugin process and the JSON-RPC session with it (proto-docs/plugin-protocol.md):
/// requests go out on its stdin, answers come back on its stdout in any order, each matched to
/// its caller by id. The connection enforces every deadline itself, and it ends the process on
/// the first line that breaks the protocol, so a broken plugin can only ever produce failures
/// that say what went wrong, never a result that looks like the target's.
public final class PluginConnection: Sendable {
    public struct Configuration: Sendable {
        /// Longest line accepted from the plugin (and the limit announced in `initialize`).
        public var maximumLineBytes = 1 << 20
        /// Answers to unknown ids (never sent, answered twice) tolerated in a row before the
        /// plugin is taken to be broken.
        public var maximumStrayAnswers = 3
        /// Checks in a row that miss their deadline before the plugin is taken to hang.
        public var maximumMissedDeadlines = 3
        /// How long a process that closed its stdout may take to exit before it is killed.
        public var exitGrace: Duration = .seconds(1)

        public init() {}
    }

    /// How a call ended.
    public enum Outcome: Sendable {
        case result(JSONValue)
        /// The plugin answered with a JSON-RPC error: it could not do it.
        case error(JSONRPCError)
        /// No answer before the deadline.
        case timedOut
        /// The process died or was ended before it answered.
        case lost(PluginFailure)
    }

    public let process: SpawnedProcess
    /// The plugin's file name, for logs and messages.
    public let name: String
    let configuration: Configuration
    let logger: Logger
    private let channel: any Channel
    private let stderrChannel: any Channel
    private let stderr: StderrLog
    private let state = Mutex(State())
    private let ended = Mutex<EndState>(.running([]))

    private struct Pending {
        var continuation: CheckedContinuation<Outcome, Never>
        var deadline: NIODeadline
        var cancelOnTimeout: Bool
    }

    private struct State {
        var nextID: Int64 = 1
        var pending: [Int64: Pending] = [:]
        /// Ids whose caller gave up (deadline); a late answer to one is expected, not stray.
        var expired: Set<Int64> = []
        var strayAnswers = 0
        var missedDeadlines = 0
        var failure: PluginFailure?
        var outbox: [UInt8] = []
        var flushScheduled = false
        var lastAnswer = ContinuousClock.now
        /// One timer for all deadlines, set for the earliest; it sweeps and sets itself again.
        var sweep: (at: NIODeadline, task: Scheduled<Void>)?
    }

    private enum EndState {
        case running([CheckedContinuation<PluginFailure, Never>])
        case ended(PluginFailure)
    }

    private init(process: SpawnedProcess, name: String, channel: any Channel, stderrChannel: any Channel, stderr: StderrLog,
                 configuration: Configuration, logger: Logger) {
        self.process = process
        self.name = name
        self.channel = channel
        self.stderrChannel = stderrChannel
        self.stderr = stderr
        self.configuration = configuration
        self.logger = logger
    }

    /// Starts the plugin and connects to its pipes. Nothing is sent yet.
    public static func start(
        _ options: SpawnedProcess.Options, name: String, configuration: Configuration = Configuration(),
        eventLoopGroup: (any EventLoopGroup)? = nil, logger: Logger
    ) async throws -> PluginConnection {
        let (process, pipes) = try await NIOThreadPool.singleton.runIfActive { try SpawnedProcess.spawn(options) }
        var logger = logger
        logger[metadataKey: "plugin.name"] = "\(name)"
        logger[metadataKey: "plugin.pid"] = "\(process.pid)"
        let stderr = StderrLog(logger: logger)
        let box = ConnectionBox()
        let loop = (eventLoopGroup ?? MultiThreadedEventLoopGroup.singleton).next()
        do {
            let stderrChannel = try await NIOPipeBootstrap(group: loop)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(LineChannelHandler(
                            maximumLineBytes: StderrLog.maximumLineBytes,
                            onFrames: { frames in
                                for frame in frames {
                                    switch frame {
                                    case .line(let bytes): stderr.line(bytes)
                                    case .tooLong: stderr.truncated()
                                    }
                                }
                            },
                            onEnd: {}))
                    }
                }
                .takingOwnershipOfDescriptor(input: pipes.errors).get()
            let channel = try await NIOPipeBootstrap(group: loop)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(LineChannelHandler(
                            maximumLineBytes: configuration.maximumLineBytes,
                            onFrames: { frames in box.frames(frames) },
                            onEnd: { box.end() }))
                    }
                }
                .takingOwnershipOfDescriptors(input: pipes.output, output: pipes.input).get()
            let connection = PluginConnection(
                process: process, name: name, channel: channel, stderrChannel: stderrChannel, stderr: stderr,
                configuration: configuration, logger: logger)
            box.attach(connection)
            return connection
        } catch {
            process.killGroup()
            throw error
        }
    }

    // MARK: Calls

    /// Sends a request and waits for its answer until `deadline`. With `cancelOnTimeout`, a
    /// missed deadline also sends `check.cancel` and counts towards the hang limit.
    public func call(_ method: String, params: JSONValue?, deadline: NIODeadline, cancelOnTimeout: Bool = false) async -> Outcome {
        await withCheckedContinuation { continuation in
            let outcome: Outcome? = state.withLock { state in
                if let failure = state.failure { return .lost(failure) }
                let id = state.nextID
                state.nextID += 1
                var request = JSONObject()
                request.append("jsonrpc", .string("2.0"))
                request.append("id", .int(id))
                request.append("method", .string(method))
                if let params { request.append("params", params) }
                state.outbox += JSONWriter.bytes(.object(request))
                state.outbox.append(0x0A)
                state.pending[id] = Pending(continuation: continuation, deadline: deadline, cancelOnTimeout: cancelOnTimeout)
                if state.sweep.map({ deadline < $0.at }) ?? true { planSweep(at: deadline, &state) }
                scheduleFlush(&state)
                return nil
            }
            if let outcome { continuation.resume(returning: outcome) }
        }
    }

    /// Sends a notification (no answer).
    public func notify(_ method: String, params: JSONValue?) {
        state.withLock { state in
            guard state.failure == nil else { return }
            var request = JSONObject()
            request.append("jsonrpc", .string("2.0"))
            request.append("method", .string(method))
            if let params { request.append("params", params) }
            state.outbox += JSONWriter.bytes(.object(request))
            state.outbox.append(0x0A)
            scheduleFlush(&state)
        }
    }

    /// Requests waiting for an answer.
    public var inFlight: Int { state.withLock { $0.pending.count } }

    /// When the plugin last answered anything (or started).
    public var lastAnswer: ContinuousClock.Instant { state.withLock { $0.lastAnswer } }

    /// Why the connection ended, once it has.
    public var failure: PluginFailure? { state.withLock { $0.failure } }

    /// Waits until the process is gone and every caller has its outcome; returns why.
    public func waitUntilEnded() async -> PluginFailure {
        await withCheckedContinuation { continuation in
            let failure = ended.withLock { ended -> PluginFailure? in
                switch ended {
                case .ended(let failure): return failure
                case .running(var waiters):
                    waiters.append(continuation)
                    ended = .running(waiters)
                    return nil
                }
            }
            if let failure { continuation.resume(returning: failure) }
        }
    }

    /// Ends the plugin at once: SIGKILL to its process group. Callers in flight get `reason`.
    public func kill(reason: String) {
        fail(PluginFailure(reason: reason, kind: .killed))
    }

    /// Ends the plugin politely: closes its stdin (it exits at end of input), SIGTERM to the group
    /// after `grace`, SIGKILL after `grace` more. Returns how it ended.
    @discardableResult
    public func close(grace: Duration = .seconds(5)) async -> SpawnedProcess.Exit {
        state.withLock { state in
            if state.failure == nil { state.failure = PluginFailure(reason: "plugin was stopped", kind: .stopped) }
        }
        flushNow()
        let channel = self.channel
        try? await channel.eventLoop.flatSubmit {
            channel.close(mode: .output)
        }.get()
        if let exit = await process.waitForExit(timeout: grace) {
            await waitForStderr()  // its last lines belong in the log, not lost with the pipe
            finishAfterExit(reason: PluginFailure(reason: "plugin was stopped", kind: .stopped))
            return exit
        }
        logger.warning("plugin still running after its stdin closed; sending SIGTERM")
        process.kill(SIGTERM)
        if let exit = await process.waitForExit(timeout: grace) {
            finishAfterExit(reason: PluginFailure(reason: "plugin was stopped", kind: .stopped))
            return exit
        }
        logger.warning("plugin ignored SIGTERM; sending SIGKILL to its process group")
        process.killGroup()
        let exit = await process.waitForExit()
        finishAfterExit(reason: PluginFailure(reason: "plugin was stopped", kind: .stopped))
        return exit
    }

    // MARK: Event loop side

    private func scheduleFlush(_ state: inout State) {
        guard !state.flushScheduled else { return }
        state.flushScheduled = true
        channel.eventLoop.execute { [self] in flushNow() }
    }

    private func flushNow() {
        let bytes = state.withLock { state -> [UInt8] in
            state.flushScheduled = false
            defer { state.outbox.removeAll(keepingCapacity: true) }
            return state.outbox
        }
        guard !bytes.isEmpty else { return }
        let buffer = channel.allocator.buffer(bytes: bytes)
        channel.writeAndFlush(buffer, promise: nil)
    }

    private func planSweep(at deadline: NIODeadline, _ state: inout State) {
        state.sweep?.task.cancel()
        let task = channel.eventLoop.scheduleTask(deadline: deadline) { [self] in sweepDeadlines() }
        state.sweep = (deadline, task)
    }

    /// Answers every call whose deadline passed with `.timedOut`.
    private func sweepDeadlines() {
        let now = NIODeadline.now()
        var expired: [(Int64, Pending)] = []
        let hung: Bool = state.withLock { state in
            state.sweep = nil
            var next: NIODeadline?
            for (id, pending) in state.pending {
                if pending.deadline <= now {
                    expired.append((id, pending))
                } else if next.map({ pending.deadline < $0 }) ?? true {
                    next = pending.deadline
                }
            }
            for (id, pending) in expired {
                state.pending[id] = nil
                state.expired.insert(id)
                if pending.cancelOnTimeout { state.missedDeadlines += 1 }
            }
            if state.expired.count > 100_000 { state.expired.removeAll() }
            if let next, state.failure == nil { planSweep(at: next, &state) }
            return state.missedDeadlines >= configuration.maximumMissedDeadlines && expired.contains { $0.1.cancelOnTimeout }
        }
        for (id, pending) in expired.sorted(by: { $0.0 < $1.0 }) {
            if pending.cancelOnTimeout {
                var params = JSONObject()
                params.append("id", .int(id))
                params.append("reason", .string("deadline"))
                notify("check.cancel", params: .object(params))
            }
            pending.continuation.resume(returning: .timedOut)
        }
        if hung {
            fail(PluginFailure(
                reason: "plugin stopped answering: \(configuration.maximumMissedDeadlines) checks in a row missed their deadline",
                kind: .hung))
        }
    }

    fileprivate func received(_ frames: [LineFramer.Frame]) {
        var answers: [PluginAnswer] = []
        answers.reserveCapacity(frames.count)
        for frame in frames {
            switch frame {
            case .tooLong:
                deliver(answers)
                fail(PluginFailure(reason: "plugin protocol error: a line on stdout is longer than \(configuration.maximumLineBytes) bytes", kind: .protocolViolation))
                return
            case .line(let bytes):
                switch PluginAnswer.parse(bytes) {
                case .failure(let problem):
                    deliver(answers)
                    fail(PluginFailure(reason: "plugin protocol error: \(problem)", kind: .protocolViolation))
                    return
                case .success(let answer):
                    answers.append(answer)
                }
            }
        }
        deliver(answers)
    }

    /// Hands a read's answers to their callers, under one lock for all of them.
    private func deliver(_ answers: [PluginAnswer]) {
        guard !answers.isEmpty else { return }
        var delivered: [(Pending, PluginAnswer)] = []
        delivered.reserveCapacity(answers.count)
        var strays: [(PluginAnswer, Int)] = []
        state.withLock { state in
            state.lastAnswer = .now
            for answer in answers {
                if let id = answer.id, let pending = state.pending.removeValue(forKey: id) {
                    state.strayAnswers = 0
                    if pending.cancelOnTimeout { state.missedDeadlines = 0 }
                    delivered.append((pending, answer))
                } else if let id = answer.id, state.expired.remove(id) != nil {
                    continue  // late: its caller gave up at the deadline
                } else {
                    state.strayAnswers += 1
                    strays.append((answer, state.strayAnswers))
                }
            }
        }
        for (pending, answer) in delivered {
            switch answer.body {
            case .result(let value): pending.continuation.resume(returning: .result(value))
            case .error(let error): pending.continuation.resume(returning: .error(error))
            }
        }
        for (answer, count) in strays {
            logger.warning("plugin answered an id it was not asked (or answered one twice); ignored", metadata: [
                "plugin.answer_id": "\(answer.id.map(String.init) ?? "null")",
                "plugin.error": "\(answer.errorMessage ?? "")",
            ])
            if count >= configuration.maximumStrayAnswers {
                fail(PluginFailure(reason: "plugin protocol error: \(count) answers in a row to ids it was not asked", kind: .protocolViolation))
                return
            }
        }
    }

    private var stderrDone: Bool { !stderrChannel.isActive }

    fileprivate func outputEnded() {
        // Stdout closed: the plugin exited or is about to. Its exit status names the failure.
        Task { [self] in
            let exit = await process.waitForExit(timeout: configuration.exitGrace)
            if exit == nil {
                process.killGroup()
            }
            let finalExit: SpawnedProcess.Exit
            if let exit {
                finalExit = exit
            } else {
                finalExit = await process.waitForExit()
            }
            await waitForStderr()
            let alreadyFailed = state.withLock { $0.failure }
            let failure = alreadyFailed ?? PluginFailure(
                reason: exit == nil ? "plugin closed its stdout without exiting" : "plugin \(finalExit)",
                kind: .exited, exit: finalExit)
            finishAfterExit(reason: failure)
        }
    }

    private func waitForStderr() async {
        for _ in 0..<50 where !stderrDone {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Marks the connection failed (first reason wins) and kills the process group; callers in
    /// flight get their outcome once the process is gone and its last stderr lines are read.
    private func fail(_ failure: PluginFailure) {
        let first = state.withLock { state -> Bool in
            guard state.failure == nil else { return false }
            state.failure = failure
            return true
        }
        guard first else { return }
        if failure.kind != .stopped {
            logger.warning("plugin ended", metadata: ["plugin.reason": "\(failure.reason)"])
        }
        process.killGroup()
        channel.close(promise: nil)
    }

    private func finishAfterExit(reason: PluginFailure) {
        var final = state.withLock { state -> PluginFailure in
            if state.failure == nil { state.failure = reason }
            return state.failure!
        }
        if final.exit == nil { final.exit = process.exit }
        final.stderrTail = stderr.tail
        let pending = state.withLock { state -> [Pending] in
            state.failure = final
            state.sweep?.task.cancel()
            state.sweep = nil
            defer { state.pending.removeAll() }
            return Array(state.pending.values)
        }
        for entry in pending {
            entry.continuation.resume(returning: .lost(final))
        }
        channel.close(promise: nil)
        stderrChannel.close(promise: nil)
        let waiters = ended.withLock { ended -> [CheckedContinuation<PluginFailure, Never>] in
            guard case .running(let waiters) = ended else { return [] }
            ended = .ended(final)
            return waiters
        }
        waiters.forEach { $0.resume(returning: final) }
    }
}

/// Lets the channel handlers, created before the connection, reach it. What the plugin writes
/// before the connection exists (a banner printed at start) is kept and delivered once it does,
/// so it is judged like any other line.
private final class ConnectionBox: Sendable {
    private enum Early {
        case frames([LineFramer.Frame])
        case end
    }

    private let state = Mutex<(connection: PluginConnection?, early: [Early])>((nil, []))

    func attach(_ connection: PluginConnection) {
        let early = state.withLock { state -> [Early] in
            state.connection = connection
            defer { state.early = [] }
            return state.early
        }
        for item in early {
            switch item {
            case .frames(let frames): connection.received(frames)
            case .end: connection.outputEnded()
            }
        }
    }

    func frames(_ frames: [LineFramer.Frame]) {
        let connection = state.withLock { state -> PluginConnection? in
            if state.connection == nil { state.early.append(.frames(frames)) }
            return state.connection
        }
        connection?.received(frames)
    }

    func end() {
        let connection = state.withLock { state -> PluginConnection? in
            if state.connection == nil { state.early.append(.end) }
            return state.connection
        }
        connection?.outputEnded()
    }
}

/// Why a plugin process ended or its session broke.
public struct PluginFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// It exited (or closed stdout) on its own.
        case exited
        /// It broke the protocol (a line that is no answer, too long, answers to unknown ids).
        case protocolViolation = "protocol_violation"
        /// It stopped answering.
        case hung
        /// The supervisor killed it for another reason (failed handshake).
        case killed
        /// The supervisor stopped it on purpose.
        case stopped
    }

    /// One line: "plugin exited with status 2", "plugin protocol error: …".
    public var reason: String
    public var kind: Kind
    public var exit: SpawnedProcess.Exit?
    /// The plugin's last stderr lines, oldest first.
    public var stderrTail: [String] = []

    public init(reason: String, kind: Kind, exit: SpawnedProcess.Exit? = nil) {
        self.reason = reason
        self.kind = kind
        self.exit = exit
    }

    public var description: String { reason }
}
