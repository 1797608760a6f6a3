public import Foundation
public import Logging
public import NIOCore
import NIOPosix
import PinguinClientKit
import PinguinModel
public import PinguinPluginHost
public import PinguinWire
import Synchronization

/// The long-lived processes of one plugin executable (proto-docs/plugin-protocol.md). One process
/// always runs (restarted with exponential backoff when it dies); more are started while every
/// running one is at its declared `max_concurrency` and checks wait, up to
/// ``Configuration/maximumProcesses``, and retired again after they idle. A plugin that crashes
/// ``Configuration/crashLimit`` times within ``Configuration/crashWindow`` is marked failed and
/// tried again once per ``Configuration/failedRetry``, never in a tight loop.
public final class PluginPool: Sendable {
    public struct Configuration: Sendable {
        public var maximumProcesses = 4
        public var initializeTimeout: Duration = .seconds(15)
        /// An idle process is pinged this often, and must answer within ``pingTimeout``.
        public var pingInterval: Duration = .seconds(30)
        public var pingTimeout: Duration = .seconds(5)
        /// Pings missed in a row before a process is taken to hang.
        public var maximumMissedPings = 2
        public var restartDelay: Duration = .seconds(1)
        public var maximumRestartDelay: Duration = .seconds(60)
        public var crashLimit = 5
        public var crashWindow: Duration = .seconds(600)
        public var failedRetry: Duration = .seconds(600)
        /// stdin closed, then SIGTERM after this, then SIGKILL after as long again.
        public var stopGrace: Duration = .seconds(5)
        /// An extra process with nothing to do for this long is stopped.
        public var idleRetire: Duration = .seconds(120)
        public var connection = PluginConnection.Configuration()

        public init() {}
    }

    /// What a check got.
    public enum Outcome: Sendable {
        case answered(PluginConnection.Outcome)
        /// No process could take it: the plugin failed, is restarting or every slot stayed busy
        /// until the deadline. The text says which.
        case unavailable(String)
    }

    public enum Phase: String, Sendable {
        case starting, running, restarting, failed, stopped
    }

    /// A view for registrations and `system.health`.
    public struct Status: Sendable {
        public var phase: Phase
        public var description: PluginDescription?
        public var processes: Int
        /// Their process ids.
        public var pids: [Int32]
        public var inFlight: Int
        public var waiting: Int
        public var restarts: Int
        public var lastFailure: String?
        public var failedUntil: Date?
    }

    public let path: String
    public let name: String
    let options: SpawnedProcess.Options
    let initializeParameters: JSONValue
    let configuration: Configuration
    let logger: Logger
    let onChange: @Sendable () -> Void
    private let state = Mutex(State())
    private let growRequests: AsyncStream<Void>
    private let growContinuation: AsyncStream<Void>.Continuation
    private let loop = MultiThreadedEventLoopGroup.singleton.next()

    private struct Instance {
        var connection: PluginConnection
        var inFlight = 0
        var lastBusy = ContinuousClock.now
    }

    private struct Waiter {
        var continuation: CheckedContinuation<Acquired, Never>
        var timer: Scheduled<Void>?
    }

    private enum Acquired {
        case instance(Int, PluginConnection)
        case unavailable(String)
    }

    private struct State {
        var instances: [Int: Instance] = [:]
        var nextInstance = 0
        var starting = 0
        var waiters: [Int: Waiter] = [:]
        var waitOrder: [Int] = []
        var nextWaiter = 0
        var description: PluginDescription?
        var phase = Phase.starting
        var crashes: [ContinuousClock.Instant] = []
        var failedMode = false
        var failedUntil: Date?
        var restarts = 0
        var lastFailure: String?
        var stopping = false
    }

    public init(
        path: String, options: SpawnedProcess.Options, initializeParameters: JSONValue, configuration: Configuration,
        logger: Logger, onChange: @escaping @Sendable () -> Void = {}
    ) {
        self.path = path
        name = (path as NSString).lastPathComponent
        self.options = options
        self.initializeParameters = initializeParameters
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "plugin.name"] = "\(name)"
        self.logger = logger
        self.onChange = onChange
        (growRequests, growContinuation) = AsyncStream.makeStream(of: Void.self)
    }

    public var status: Status {
        state.withLock { state in
            Status(
                phase: state.phase, description: state.description, processes: state.instances.count,
                pids: state.instances.values.map(\.connection.process.pid).sorted(),
                inFlight: state.instances.values.reduce(0) { $0 + $1.inFlight }, waiting: state.waiters.count,
                restarts: state.restarts, lastFailure: state.lastFailure, failedUntil: state.failedUntil)
        }
    }

    /// The kinds from the last successful handshake (empty before it and while failed).
    public var kinds: [String] {
        state.withLock { state in state.phase == .failed ? [] : (state.description?.kinds.map(\.kind) ?? []) }
    }

    // MARK: Running

    /// Keeps the processes running until ``stop()``; returns when they are all gone.
    public func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.slotLoop(extra: false) }
            for await _ in growRequests {
                group.addTask { await self.slotLoop(extra: true) }
            }
        }
    }

    /// Stops every process: `shutdown`, stdin closed, SIGTERM, SIGKILL. Checks still waiting for a
    /// process get `unavailable`.
    public func stop() async {
        let (connections, waiters) = state.withLock { state -> ([PluginConnection], [Waiter]) in
            state.stopping = true
            state.phase = .stopped
            let waiters = state.waitOrder.compactMap { state.waiters[$0] }
            state.waiters = [:]
            state.waitOrder = []
            return (state.instances.values.map(\.connection), waiters)
        }
        growContinuation.finish()
        for waiter in waiters {
            waiter.timer?.cancel()
            waiter.continuation.resume(returning: .unavailable("the supervisor is stopping"))
        }
        await withDiscardingTaskGroup { group in
            for connection in connections {
                group.addTask {
                    _ = await connection.call("shutdown", params: nil, deadline: .now() + .milliseconds(self.configuration.stopGrace.wholeMilliseconds))
                    await connection.close(grace: self.configuration.stopGrace)
                }
            }
        }
    }

    /// Runs one check through a process of this plugin, waiting for a free slot if need be.
    public func check(_ params: JSONValue, deadline: NIODeadline) async -> Outcome {
        switch await acquire(deadline: deadline) {
        case .unavailable(let reason):
            return .unavailable(reason)
        case .instance(let id, let connection):
            let outcome = await connection.call("check.run", params: params, deadline: deadline, cancelOnTimeout: true)
            release(id)
            return .answered(outcome)
        }
    }

    // MARK: Slots

    private func acquire(deadline: NIODeadline) async -> Acquired {
        await withCheckedContinuation { continuation in
            let immediate: Acquired? = state.withLock { state in
                if state.stopping { return .unavailable("the supervisor is stopping") }
                if state.phase == .failed { return .unavailable(failedText(state)) }
                if let (id, connection) = freeInstance(&state) { return .instance(id, connection) }
                let waiterID = state.nextWaiter
                state.nextWaiter += 1
                let timer = loop.scheduleTask(deadline: deadline) { [self] in timeOut(waiterID) }
                state.waiters[waiterID] = Waiter(continuation: continuation, timer: timer)
                state.waitOrder.append(waiterID)
                requestGrowth(&state)
                return nil
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
    }

    private func freeInstance(_ state: inout State) -> (Int, PluginConnection)? {
        let capacity = state.description?.maximumConcurrency ?? 1
        var chosen: (id: Int, load: Int)?
        for (id, instance) in state.instances where instance.inFlight < capacity && instance.inFlight < (chosen?.load ?? .max) {
            chosen = (id, instance.inFlight)
        }
        guard let id = chosen?.id else { return nil }
        state.instances[id]!.inFlight += 1
        state.instances[id]!.lastBusy = .now
        return (id, state.instances[id]!.connection)
    }

    private func requestGrowth(_ state: inout State) {
        guard state.phase == .running, state.starting == 0,
              state.instances.count < configuration.maximumProcesses, !state.instances.isEmpty else { return }
        state.starting += 1
        growContinuation.yield()
    }

    private func release(_ id: Int) {
        let handoff: (Waiter, Int, PluginConnection)? = state.withLock { state in
            guard state.instances[id] != nil else { return nil }
            state.instances[id]!.inFlight -= 1
            state.instances[id]!.lastBusy = .now
            return nextWaiter(&state)
        }
        if let (waiter, id, connection) = handoff {
            waiter.timer?.cancel()
            waiter.continuation.resume(returning: .instance(id, connection))
        }
    }

    private func nextWaiter(_ state: inout State) -> (Waiter, Int, PluginConnection)? {
        while let first = state.waitOrder.first {
            guard let waiter = state.waiters[first] else {
                state.waitOrder.removeFirst()
                continue
            }
            guard let (id, connection) = freeInstance(&state) else { return nil }
            state.waitOrder.removeFirst()
            state.waiters[first] = nil
            return (waiter, id, connection)
        }
        return nil
    }

    private func timeOut(_ waiterID: Int) {
        let (waiter, reason): (Waiter?, String) = state.withLock { state in
            guard let waiter = state.waiters.removeValue(forKey: waiterID) else { return (nil, "") }
            let reason: String
            switch state.phase {
            case .failed: reason = failedText(state)
            case .restarting, .starting where state.instances.isEmpty:
                reason = "plugin timeout: \(name) is " + (state.lastFailure.map { "restarting after: \($0)" } ?? "starting")
            default:
                let inFlight = state.instances.values.reduce(0) { $0 + $1.inFlight }
                reason = "plugin timeout: no free slot in \(name) before the deadline (\(inFlight) checks in flight in \(state.instances.count) processes)"
            }
            return (waiter, reason)
        }
        waiter?.continuation.resume(returning: .unavailable(reason))
    }

    private func failedText(_ state: State) -> String {
        let until = state.failedUntil.map { ", next attempt at \(RFC3339.string($0))" } ?? ""
        return "plugin \(name) has failed: it crashed \(configuration.crashLimit) times within \(configuration.crashWindow.wholeMilliseconds / 1000) s"
            + (state.lastFailure.map { " (last: \($0))" } ?? "") + until
    }

    // MARK: Process lifecycle

    private func slotLoop(extra: Bool) async {
        var retired = false
        slots: while !retired && !state.withLock({ $0.stopping }) {
            let failure: String
            switch await startInstance(extra: extra) {
            case .failure(let problem):
                failure = problem.reason
            case .success(let (id, connection)):
                let ended = await serve(id: id, connection: connection, extra: extra)
                retired = ended.retired
                let stopping = state.withLock { state in
                    state.instances[id] = nil
                    return state.stopping
                }
                if stopping || retired { break slots }
                failure = ended.failure.reason
            }
            if state.withLock({ $0.stopping }) { break }
            if retired { break }
            let delay = recordCrash(failure)
            onChange()
            if extra { break }
            // In steps, so stop() never waits out a 10-minute retry delay.
            let wakeAt = ContinuousClock.now + delay
            while ContinuousClock.now < wakeAt, !state.withLock({ $0.stopping }) {
                try? await Task.sleep(for: min(.milliseconds(100), wakeAt - ContinuousClock.now))
            }
        }
    }

    private func startInstance(extra: Bool) async -> Result<(Int, PluginConnection), StartFailure> {
        let connection: PluginConnection
        do {
            connection = try await PluginConnection.start(
                options, name: name, configuration: configuration.connection, logger: logger)
        } catch {
            if extra { state.withLock { $0.starting = max(0, $0.starting - 1) } }
            return .failure(StartFailure(reason: "\(error)"))
        }
        let outcome = await connection.call(
            "initialize", params: initializeParameters,
            deadline: .now() + .milliseconds(configuration.initializeTimeout.wholeMilliseconds))
        var problem: String?
        var description: PluginDescription?
        switch outcome {
        case .result(let value):
            switch PluginHandshake.description(from: value) {
            case .success(let parsed): description = parsed
            case .failure(let error): problem = "plugin protocol error: \(error.reason)"
            }
        case .error(let error):
            problem = error.code == JSONRPCError.invalidParamsCode
                ? "plugin speaks none of the offered protocol versions (\(error.message))"
                : "plugin refused initialize: \(error.message)"
        case .timedOut:
            problem = "plugin did not answer initialize within \(configuration.initializeTimeout.wholeMilliseconds / 1000) s"
        case .lost(let failure):
            problem = "plugin ended during the handshake: \(failure.reason)" + Self.tailText(failure.stderrTail)
        }
        guard let description else {
            connection.kill(reason: problem ?? "handshake failed")
            _ = await connection.waitUntilEnded()
            if extra { state.withLock { $0.starting = max(0, $0.starting - 1) } }
            return .failure(StartFailure(reason: problem ?? "handshake failed"))
        }
        connection.notify("initialized", params: nil)
        let (id, handoffs, changed) = state.withLock { state -> (Int, [(Waiter, Int, PluginConnection)], Bool) in
            let id = state.nextInstance
            state.nextInstance += 1
            if extra { state.starting = max(0, state.starting - 1) }
            state.instances[id] = Instance(connection: connection)
            let changed = state.description != description || state.phase != .running
            state.description = description
            state.phase = .running
            state.failedMode = false
            state.failedUntil = nil
            var handoffs: [(Waiter, Int, PluginConnection)] = []
            while let next = nextWaiter(&state) { handoffs.append(next) }
            return (id, handoffs, changed)
        }
        for (waiter, instance, connection) in handoffs {
            waiter.timer?.cancel()
            waiter.continuation.resume(returning: .instance(instance, connection))
        }
        logger.info("plugin ready", metadata: [
            "plugin.version": "\(description.version)", "plugin.kinds": "\(description.kinds.map(\.kind).joined(separator: ","))",
            "plugin.max_concurrency": "\(description.maximumConcurrency)", "plugin.pid": "\(connection.process.pid)",
        ])
        if changed { onChange() }
        return .success((id, connection))
    }

    /// Pings the process while it idles and retires an idle extra; returns when it ended.
    private func serve(id: Int, connection: PluginConnection, extra: Bool) async -> (failure: PluginFailure, retired: Bool) {
        let retired = Flag()
        let failure = await withTaskGroup(of: PluginFailure?.self) { group in
            group.addTask { await connection.waitUntilEnded() }
            group.addTask {
                var missed = 0
                while !Task.isCancelled {
                    do { try await Task.sleep(for: min(self.configuration.pingInterval, self.configuration.idleRetire)) } catch { return nil }
                    let (busy, idleFor, others) = self.state.withLock { state -> (Bool, Duration, Int) in
                        let instance = state.instances[id]
                        return ((instance?.inFlight ?? 0) > 0, ContinuousClock.now - (instance?.lastBusy ?? .now), state.instances.count - 1)
                    }
                    if extra && !busy && others > 0 && idleFor >= self.configuration.idleRetire {
                        // Take it out of rotation first, so no check lands on a closing process.
                        let stillIdle = self.state.withLock { state -> Bool in
                            guard let instance = state.instances[id], instance.inFlight == 0 else { return false }
                            state.instances[id] = nil
                            return true
                        }
                        if stillIdle {
                            retired.set()
                            self.logger.info("idle extra plugin process stopped", metadata: ["plugin.pid": "\(connection.process.pid)"])
                            _ = await connection.call("shutdown", params: nil, deadline: .now() + .seconds(5))
                            await connection.close(grace: self.configuration.stopGrace)
                            return nil
                        }
                    }
                    guard !busy else {
                        missed = 0
                        continue
                    }
                    switch await connection.call("ping", params: nil, deadline: .now() + .milliseconds(self.configuration.pingTimeout.wholeMilliseconds)) {
                    case .timedOut:
                        missed += 1
                        if missed >= self.configuration.maximumMissedPings {
                            connection.kill(reason: "plugin stopped answering: \(missed) pings in a row got no answer")
                            return nil
                        }
                    case .lost:
                        return nil
                    case .result, .error:
                        missed = 0
                    }
                }
                return nil
            }
            var failure: PluginFailure?
            for await result in group {
                if let result {
                    failure = result
                    group.cancelAll()
                } else if retired.isSet || connection.failure != nil {
                    // The pinger ended: wait for the process to be gone.
                    continue
                }
            }
            return failure ?? PluginFailure(reason: "plugin was stopped", kind: .stopped)
        }
        return (failure, retired.isSet)
    }

    /// Counts a crash and returns how long to wait before the next start.
    private func recordCrash(_ reason: String) -> Duration {
        let now = ContinuousClock.now
        let (delay, failedNow) = state.withLock { state -> (Duration, Bool) in
            state.restarts += 1
            state.lastFailure = reason
            state.crashes.append(now)
            state.crashes.removeAll { now - $0 > configuration.crashWindow }
            if state.failedMode || state.crashes.count >= configuration.crashLimit {
                state.failedMode = true
                state.phase = .failed
                state.failedUntil = Date().addingTimeInterval(Double(configuration.failedRetry.wholeMilliseconds) / 1000)
                return (configuration.failedRetry, true)
            }
            if state.instances.isEmpty { state.phase = .restarting }
            var delay = configuration.restartDelay
            for _ in 1..<state.crashes.count { delay = min(delay * 2, configuration.maximumRestartDelay) }
            return (delay, false)
        }
        if failedNow {
            let waiters = state.withLock { state -> [Waiter] in
                let waiters = state.waitOrder.compactMap { state.waiters[$0] }
                state.waiters = [:]
                state.waitOrder = []
                return waiters
            }
            let text = state.withLock { failedText($0) }
            for waiter in waiters {
                waiter.timer?.cancel()
                waiter.continuation.resume(returning: .unavailable(text))
            }
            logger.error("plugin marked failed after repeated crashes", metadata: ["plugin.reason": "\(reason)"])
        } else {
            logger.warning("plugin will be restarted", metadata: [
                "plugin.reason": "\(reason)", "plugin.restart_in_ms": "\(delay.wholeMilliseconds)",
            ])
        }
        return delay
    }

    static func tailText(_ tail: [String]) -> String {
        tail.isEmpty ? "" : "; stderr: " + tail.suffix(3).joined(separator: " | ")
    }

    private final class Flag: Sendable {
        private let value = Atomic<Bool>(false)
        func set() { value.store(true, ordering: .relaxed) }
        var isSet: Bool { value.load(ordering: .relaxed) }
    }

    private struct StartFailure: Error {
        var reason: String
    }
}
