import Foundation
public import Logging
import NIOCore
import PinguinClientKit
public import PinguinModel
public import PinguinPluginHost
public import PinguinRedis
public import PinguinWire
public import ServiceLifecycle
import Synchronization

/// The supervisor role: reads jobs through the `supervisors` consumer group, runs each through a
/// plugin process (or a Nagios program), and writes exactly one result per job to the results
/// stream, acknowledging the job in the same atomic step (proto-docs/redis.md, "Jobs stream").
///
/// A broken checker never yields `down`: timeouts, crashes and protocol errors become `unknown`
/// with a message that says what broke and `details.checker_error` naming the class of failure.
public final class Supervisor: Service, Sendable {
    public struct Configuration: Sendable {
        public var id = "sv-\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
        /// This supervisor's location tag; jobs limited to other locations are handed on.
        public var location = "default"
        /// Folders searched for `pinguin-check-*` executables.
        public var pluginDirectories: [String] = []
        /// Folders whose programs kind `nagios` may run.
        public var nagiosDirectories = ["/usr/lib/nagios/plugins", "/usr/lib/monitoring-plugins"]
        /// Most jobs taken at once; reading pauses while this many run.
        public var maximumInFlight = 4096
        public var readBatch = 512
        /// A job pending on a supervisor that stopped refreshing it for this long is claimed by
        /// another. Live supervisors refresh theirs every third of it, so it does not depend on
        /// any check's timeout.
        public var claimIdle: Duration = .seconds(30)
        public var heartbeatInterval: Duration = .seconds(10)
        /// On shutdown, how long checks in flight may finish before they are handed back.
        public var shutdownGrace: Duration = .seconds(10)
        /// Results are written in batches: at most this many, at least this often.
        public var resultBatch = 512
        public var pool = PluginPool.Configuration()
        public var pluginUser: SpawnedProcess.User?
        public var pluginLimits = SpawnedProcess.Limits()
        public var keys = SupervisorKeys.standard

        public init() {}
    }

    public struct Statistics: Sendable, Hashable {
        public var received = 0
        public var completed = 0
        public var claimed = 0
        public var forwarded = 0
        public var handedBack = 0
        public var stale = 0
        /// Results not written because another supervisor had already answered the job.
        public var superseded = 0
        public var malformed = 0
    }

    public let configuration: Configuration
    let redis: RedisClient
    let logger: Logger
    let pools: [PluginPool]
    let nagios: NagiosRunner
    private let startedAt = Date()
    private let state = Mutex(State())
    private let totals = Mutex(Statistics())
    private let wake: AsyncStream<Void>
    private let wakeContinuation: AsyncStream<Void>.Continuation

    private struct State {
        /// Jobs taken and not yet answered: "stream\u{0}id" → entry.
        var inFlight: [String: RedisStreamEntry] = [:]
        var outbox: [Completion] = []
        var routes: [String: PluginPool] = [:]
        var liveLocations: Set<String> = []
        var stopping = false
    }

    private struct Completion {
        var stream: String
        var entryID: String
        var fields: [(String, String)]
    }

    public init(configuration: Configuration, redis: RedisClient, logger: Logger) {
        self.configuration = configuration
        self.redis = redis
        var logger = logger
        logger[metadataKey: "supervisor.id"] = "\(configuration.id)"
        self.logger = logger
        nagios = NagiosRunner(directories: configuration.nagiosDirectories, user: configuration.pluginUser, limits: configuration.pluginLimits)
        (wake, wakeContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let parameters = PluginHandshake.parameters(
            supervisorName: "pinguind", version: PinguinVersion.current, id: configuration.id, location: configuration.location,
            maximumLineBytes: configuration.pool.connection.maximumLineBytes)
        let box = ChangeBox()
        pools = Self.discover(configuration.pluginDirectories, logger: logger).map { path in
            var options = SpawnedProcess.Options(path: path, environment: [
                "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PINGUIN_PLUGIN": "1",
                "PINGUIN_PLUGIN_PROTOCOL_VERSIONS": PluginHandshake.protocolVersions.map(String.init).joined(separator: ","),
            ])
            options.user = configuration.pluginUser
            options.limits = configuration.pluginLimits
            return PluginPool(
                path: path, options: options, initializeParameters: parameters, configuration: configuration.pool,
                logger: logger, onChange: { box.supervisor?.catalogueChanged() })
        }
        box.supervisor = self
        updateRoutes()
    }

    /// `pinguin-check-*` executables in the folders, first folder first; a name found twice is
    /// taken from the first folder.
    static func discover(_ directories: [String], logger: Logger) -> [String] {
        var seen = Set<String>()
        var found: [String] = []
        // Absolute, since plugins start in "/".
        for directory in directories.map({ URL(fileURLWithPath: $0).standardizedFileURL.path }) {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
                logger.warning("plugin folder cannot be read", metadata: ["plugin.folder": "\(directory)"])
                continue
            }
            for name in names.sorted() where name.hasPrefix("pinguin-check-") && !name.hasSuffix("~") {
                let path = (directory as NSString).appendingPathComponent(name)
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                      access(path, X_OK) == 0, seen.insert(name).inserted else { continue }
                found.append(path)
            }
        }
        return found
    }

    public var statistics: Statistics { totals.withLock { $0 } }

    /// The pools' view, for tests and `system.health`.
    public var pluginStatus: [(name: String, status: PluginPool.Status)] { pools.map { ($0.name, $0.status) } }

    fileprivate func catalogueChanged() {
        updateRoutes()
        wakeContinuation.yield()
    }

    private func updateRoutes() {
        var routes: [String: PluginPool] = [:]
        for pool in pools {
            // Before its first handshake a plugin is known by its file name's kind.
            let fallback = String(pool.name.dropFirst("pinguin-check-".count))
            let kinds = pool.kinds
            for kind in kinds.isEmpty && pool.status.description == nil ? [fallback] : kinds where routes[kind] == nil {
                routes[kind] = pool
            }
            if routes[fallback] == nil && pool.status.phase == .failed { routes[fallback] = pool }
        }
        state.withLock { $0.routes = routes }
    }

    // MARK: Service

    public func run() async throws {
        let keys = configuration.keys
        try await redis.xgroupCreate(keys.jobs, group: keys.group, startID: "0")
        try await redis.xgroupCreate(keys.jobs(in: configuration.location), group: keys.group, startID: "0")
        logger.info("supervisor starting", metadata: [
            "supervisor.location": "\(configuration.location)", "supervisor.plugins": "\(pools.map(\.name).joined(separator: ","))",
        ])
        await withDiscardingTaskGroup { group in
            for pool in pools {
                group.addTask { await pool.run() }
            }
            group.addTask { await self.flushLoop() }
            // Wait (bounded) for the first handshakes, so the first registration lists the kinds.
            let waitUntil = ContinuousClock.now + configuration.pool.initializeTimeout
            while ContinuousClock.now < waitUntil, pools.contains(where: { $0.status.phase == .starting }), !stopping {
                try? await Task.sleep(for: .milliseconds(20))
            }
            updateRoutes()
            group.addTask { await self.heartbeatLoop() }
            group.addTask { await self.claimLoop() }
            await withDiscardingTaskGroup { jobs in
                await consumeLoop(&jobs)
                await shutDown()
            }
            state.withLock { $0.stopping = true }
            wakeContinuation.finish()
        }
        try? await redis.send("HDEL", keys.supervisors, configuration.id)
        logger.info("supervisor stopped", metadata: ["supervisor.completed": "\(statistics.completed)"])
    }

    private var stopping: Bool { Task.isCancelled || Task.isShuttingDownGracefully }

    private func consumeLoop(_ jobs: inout DiscardingTaskGroup) async {
        let keys = configuration.keys
        let streams = [keys.jobs, keys.jobs(in: configuration.location)]
        var backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(5))
        while !stopping {
            let claimed = claimedJobs.withLock { claimed in
                defer { claimed = [] }
                return claimed
            }
            for entry in claimed {
                jobs.addTask { await self.process(entry) }
            }
            let free = configuration.maximumInFlight - state.withLock { $0.inFlight.count }
            guard free > 0 else {
                try? await Task.sleep(for: .milliseconds(2))
                continue
            }
            let entries: [RedisStreamEntry]
            do {
                entries = try await cancelWhenGracefulShutdown {
                    try await self.redis.xreadgroup(
                        streams: streams, group: keys.group, consumer: self.configuration.id,
                        count: min(free, self.configuration.readBatch), block: .milliseconds(500))
                }
                backoff.reset()
            } catch {
                if stopping { break }
                logger.warning("cannot read jobs", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: backoff.next())
                continue
            }
            totals.withLock { $0.received += entries.count }
            for entry in entries {
                take(entry)
                jobs.addTask { await self.process(entry) }
            }
        }
    }

    private func take(_ entry: RedisStreamEntry) {
        state.withLock { $0.inFlight[entry.stream + "\u{0}" + entry.id] = entry }
    }

    // MARK: Jobs

    private func process(_ entry: RedisStreamEntry) async {
        let job: CheckJob
        do {
            job = try CheckJob(streamFields: entry.fields)
        } catch {
            totals.withLock { $0.malformed += 1 }
            logger.error("malformed job", metadata: ["job.entry": "\(entry.id)", "error": "\(error)"])
            // A result needs a monitor and a slot; without them the entry can only be dropped.
            if let monitor = entry.string(CheckJob.StreamField.monitor).flatMap(Int64.init), monitor > 0,
               let scheduled = entry.string(CheckJob.StreamField.scheduled).flatMap(Int64.init),
               let slot = entry.string(CheckJob.StreamField.slot).flatMap(Int32.init), slot > 0 {
                var result = CheckResult(
                    monitorID: monitor, scheduledAt: Date(unixMicroseconds: scheduled), location: configuration.location,
                    status: .unknown, slotMilliseconds: slot, message: "malformed job: \(error)",
                    details: #"{"checker_error":"job"}"#, supervisor: configuration.id)
                result.job = entry.string(CheckJob.StreamField.job)
                complete(entry, result: result)
            } else {
                await drop(entry)
            }
            return
        }
        if !job.locations.isEmpty && !job.locations.contains(configuration.location) {
            await forward(entry, job: job)
            return
        }
        let now = Date()
        let waited = now.timeIntervalSince(job.scheduledAt)
        let staleAfter = job.manual ? 300 : Double(job.slotMilliseconds) / 1000
        if waited > staleAfter {
            totals.withLock { $0.stale += 1 }
            complete(entry, result: result(for: job, status: .skipped, started: nil, latency: nil,
                message: "not run: the job waited \(Int(waited)) s for a supervisor, longer than its \(job.manual ? "300 s limit" : "interval")",
                details: JSONObject(["checker_error": .string("stale")])))
            return
        }
        let started = Date()
        let timeout = Duration.milliseconds(Int64(job.timeoutMilliseconds))
        if job.kind == NagiosRunner.kind {
            guard let config = (try? JSONParser.parse(job.config))?.objectValue else {
                complete(entry, result: result(for: job, status: .unknown, started: started, latency: nil,
                    message: "job config is not a JSON object", details: JSONObject(["checker_error": .string("config")])))
                return
            }
            let outcome = await nagios.run(config: config, target: job.target, timeout: timeout)
            complete(entry, result: result(for: job, status: outcome.status, started: started, latency: outcome.latencyMilliseconds,
                message: outcome.message, details: outcome.details))
            return
        }
        guard let pool = state.withLock({ $0.routes[job.kind] }) else {
            complete(entry, result: result(for: job, status: .unknown, started: started, latency: nil,
                message: "no plugin for kind \"\(job.kind)\" on supervisor \(configuration.id)",
                details: JSONObject(["checker_error": .string("no_plugin")])))
            return
        }
        guard let config = (try? JSONParser.parse(job.config)).flatMap({ $0.objectValue == nil ? nil : $0 }) else {
            complete(entry, result: result(for: job, status: .unknown, started: started, latency: nil,
                message: "job config is not a JSON object", details: JSONObject(["checker_error": .string("config")])))
            return
        }
        var params = JSONObject()
        params.append("check_id", .string(job.id))
        params.append("monitor_id", .int(job.monitorID))
        params.append("kind", .string(job.kind))
        params.append("target", .string(job.target))
        params.append("config", config)
        params.append("deadline", .string(RFC3339.string(started.addingTimeInterval(Double(job.timeoutMilliseconds) / 1000))))
        params.append("timeout_ms", .int(job.timeoutMilliseconds))
        params.append("scheduled_at", .string(RFC3339.string(job.scheduledAt)))
        let outcome = await pool.check(.object(params), deadline: .now() + .milliseconds(Int64(job.timeoutMilliseconds)))
        let elapsed = Date().timeIntervalSince(started) * 1000
        complete(entry, result: translate(outcome, job: job, pool: pool, started: started, elapsed: elapsed))
    }

    private func translate(_ outcome: PluginPool.Outcome, job: CheckJob, pool: PluginPool, started: Date, elapsed: Double) -> CheckResult {
        func unknown(_ message: String, _ kind: String, _ extra: JSONObject = JSONObject()) -> CheckResult {
            var details = extra
            details.append("checker_error", .string(kind))
            details.append("plugin", .string(pool.name))
            return result(for: job, status: .unknown, started: started, latency: elapsed, message: message, details: details)
        }
        switch outcome {
        case .unavailable(let reason):
            return unknown(reason, "unavailable")
        case .answered(.timedOut):
            return unknown("plugin timeout: \(pool.name) did not answer within \(job.timeoutMilliseconds) ms", "timeout")
        case .answered(.lost(let failure)):
            var extra = JSONObject()
            if !failure.stderrTail.isEmpty { extra.append("plugin_stderr", .array(failure.stderrTail.map { .string($0) })) }
            let kind = failure.kind == .protocolViolation ? "protocol" : failure.kind == .hung ? "hung" : "crash"
            return unknown(failure.reason + PluginPool.tailText(failure.stderrTail), kind, extra)
        case .answered(.error(let error)):
            var extra = JSONObject()
            extra.append("plugin_error", .object(JSONObject(["code": .int(error.code), "message": .string(error.message)])))
            return unknown("plugin could not check: \(error.message)", "plugin_error", extra)
        case .answered(.result(let value)):
            switch PluginCheckResult.parse(value) {
            case .failure(let problem):
                return unknown("plugin protocol error: \(problem)", "protocol")
            case .success(let answer):
                var details = answer.details
                if let kind = answer.errorKind { details.append("error_kind", .string(kind)) }
                if !answer.metrics.isEmpty { details.append("metrics", .array(answer.metrics)) }
                let status: CheckStatus = switch answer.status {
                case .up: .up
                case .down: .down
                case .degraded: .degraded
                case .unknown: .unknown
                }
                var result = result(for: job, status: status, started: started, latency: answer.latencyMilliseconds ?? elapsed,
                                    message: answer.message, details: details)
                result.phases = String(decoding: JSONWriter.bytes(.object(answer.phases)), as: UTF8.self)
                return result
            }
        }
    }

    private func result(for job: CheckJob, status: CheckStatus, started: Date?, latency: Double?, message: String, details: JSONObject) -> CheckResult {
        var result = CheckResult(
            monitorID: job.monitorID, scheduledAt: job.scheduledAt, location: configuration.location, status: status,
            slotMilliseconds: job.slotMilliseconds, startedAt: started, finishedAt: started == nil ? nil : Date(),
            latencyMilliseconds: latency, message: Self.oneLine(message),
            details: String(decoding: JSONWriter.bytes(.object(details)), as: UTF8.self), supervisor: configuration.id)
        result.job = job.id
        result.manual = job.manual
        return result
    }

    /// Messages are one line of at most 1024 bytes, cut on a character boundary.
    static func oneLine(_ text: String) -> String {
        let limit = CheckResult.maximumMessageBytes
        if text.utf8.count <= limit && !text.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D }) { return text }
        var line = String.UnicodeScalarView()
        var bytes = 0
        var previousWasBreak = false
        for scalar in text.unicodeScalars {
            let isBreak = scalar == "\n" || scalar == "\r"
            if isBreak && previousWasBreak { continue }  // "\r\n" becomes one space
            previousWasBreak = isBreak
            let next = isBreak ? " " : scalar
            bytes += UTF8.width(next)
            if bytes > limit { break }
            line.append(next)
        }
        return String(line)
    }

    private func complete(_ entry: RedisStreamEntry, result: CheckResult) {
        state.withLock { state in
            state.outbox.append(Completion(stream: entry.stream, entryID: entry.id, fields: result.streamFields))
        }
        wakeContinuation.yield()
    }

    private func drop(_ entry: RedisStreamEntry) async {
        _ = try? await redis.xack(entry.stream, group: configuration.keys.group, ids: [entry.id])
        _ = try? await redis.send("XDEL", entry.stream, entry.id)
        state.withLock { _ = $0.inFlight.removeValue(forKey: entry.stream + "\u{0}" + entry.id) }
    }

    /// Hands a job limited to other locations to a location with a live supervisor, or answers it
    /// `unknown` when there is none (never a job left waiting for nobody).
    private func forward(_ entry: RedisStreamEntry, job: CheckJob) async {
        let live = state.withLock { $0.liveLocations }
        guard let target = job.locations.filter({ live.contains($0) }).randomElement() else {
            complete(entry, result: result(for: job, status: .unknown, started: nil, latency: nil,
                message: "no live supervisor in location \(job.locations.joined(separator: ", "))",
                details: JSONObject(["checker_error": .string("no_location")])))
            return
        }
        await move(entry, to: configuration.keys.jobs(in: target))
        totals.withLock { $0.forwarded += 1 }
    }

    private func move(_ entry: RedisStreamEntry, to stream: String) async {
        var arguments: [any RedisArgument] = [configuration.keys.group, entry.id]
        for (name, value) in entry.fields.sorted(by: { $0.key < $1.key }) {
            arguments.append(name)
            arguments.append(value)
        }
        var backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(2))
        for _ in 0..<10 {
            do {
                _ = try await redis.evaluate(SupervisorScripts.move, keys: [entry.stream, stream], arguments: arguments)
                break
            } catch {
                logger.warning("cannot hand a job on", metadata: ["job.entry": "\(entry.id)", "error": "\(error)"])
                try? await Task.sleep(for: backoff.next())
            }
        }
        state.withLock { _ = $0.inFlight.removeValue(forKey: entry.stream + "\u{0}" + entry.id) }
    }

    // MARK: Writing results

    private func flushLoop() async {
        var backoff = Backoff(initial: .milliseconds(50), maximum: .seconds(2))
        var waker = wake.makeAsyncIterator()
        while true {
            let (batch, stop) = state.withLock { state -> ([Completion], Bool) in
                let batch = Array(state.outbox.prefix(configuration.resultBatch))
                state.outbox.removeFirst(batch.count)
                return (batch, state.stopping && state.outbox.isEmpty)
            }
            if batch.isEmpty {
                if stop { return }
                if await waker.next() == nil {
                    // Woken for the last time: write what is left, then end.
                    let rest = state.withLock { state -> [Completion] in
                        defer { state.outbox = [] }
                        return state.outbox
                    }
                    if !rest.isEmpty { _ = await write(rest, backoff: &backoff, attempts: 20) }
                    return
                }
                continue
            }
            _ = await write(batch, backoff: &backoff, attempts: Int.max)
        }
    }

    private func write(_ batch: [Completion], backoff: inout Backoff, attempts: Int) async -> Bool {
        var keys: [String] = [configuration.keys.results]
        var index: [String: Int] = [:]
        var arguments: [any RedisArgument] = [configuration.keys.group]
        arguments.reserveCapacity(batch.count * 30)
        for completion in batch {
            let slot = index[completion.stream] ?? {
                keys.append(completion.stream)
                index[completion.stream] = keys.count
                return keys.count
            }()
            arguments.append(slot)
            arguments.append(completion.entryID)
            arguments.append(completion.fields.count)
            for (name, value) in completion.fields {
                arguments.append(name)
                arguments.append(value)
            }
        }
        var attempt = 0
        while attempt < attempts {
            attempt += 1
            do {
                let written = try await redis.evaluate(SupervisorScripts.complete, keys: keys, arguments: arguments).int ?? 0
                backoff.reset()
                totals.withLock {
                    $0.completed += written
                    $0.superseded += batch.count - written
                }
                state.withLock { state in
                    for completion in batch { state.inFlight[completion.stream + "\u{0}" + completion.entryID] = nil }
                }
                return true
            } catch {
                logger.warning("cannot write results; will retry", metadata: ["error": "\(error)", "supervisor.batch": "\(batch.count)"])
                try? await Task.sleep(for: backoff.next())
            }
        }
        return false
    }

    // MARK: Registration, claiming, shutdown

    private func heartbeatLoop() async {
        while !state.withLock({ $0.stopping }) {
            await register()
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.configuration.heartbeatInterval) }
            if stopping { return }
        }
    }

    /// The registration (proto-docs/redis.md, "Supervisor registrations").
    public func registration() -> JSONObject {
        var object = JSONObject()
        object.append("id", .string(configuration.id))
        object.append("host", .string(ProcessInfo.processInfo.hostName))
        object.append("location", .string(configuration.location))
        object.append("version", .string(PinguinVersion.current))
        object.append("started_at", .string(RFC3339.string(startedAt)))
        object.append("heartbeat_at", .string(RFC3339.string(Date())))
        let statistics = self.statistics
        object.append("jobs", .object(JSONObject([
            "in_flight": .int(state.withLock { $0.inFlight.count }), "completed": .int(statistics.completed),
            "claimed": .int(statistics.claimed), "forwarded": .int(statistics.forwarded), "stale": .int(statistics.stale),
        ])))
        var plugins: [JSONValue] = pools.map { pool in
            let status = pool.status
            var entry = status.description?.registration(state: status.phase.rawValue) ?? JSONObject([
                "name": .string(pool.name), "version": .string(""), "protocol": .string(""),
                "state": .string(status.phase.rawValue), "max_concurrency": .int(0), "kinds": .array([]),
            ])
            entry.append("file", .string(pool.path))
            entry.append("processes", .int(status.processes))
            entry.append("in_flight", .int(status.inFlight))
            entry.append("restarts", .int(status.restarts))
            if let failure = status.lastFailure { entry.append("last_error", .string(failure)) }
            if let until = status.failedUntil { entry.append("failed_until", .string(RFC3339.string(until))) }
            return .object(entry)
        }
        plugins.append(.object(nagios.registration))
        object.append("plugins", .array(plugins))
        return object
    }

    private func register() async {
        do {
            try await redis.send("HSET", configuration.keys.supervisors, configuration.id, JSONWriter.string(.object(registration())))
            // Which locations have a live supervisor, for jobs limited to other locations.
            let all = try await redis.send("HGETALL", configuration.keys.supervisors).array ?? []
            var live: Set<String> = [configuration.location]
            var forgotten: [any RedisArgument] = []
            var index = 1
            while index < all.count {
                if let text = all[index].string, let object = (try? JSONParser.parse(text))?.objectValue,
                   let beat = object["heartbeat_at"]?.stringValue.flatMap(RFC3339.parse) {
                    let age = Date().timeIntervalSince(beat)
                    if age < 30, let location = object["location"]?.stringValue { live.insert(location) }
                    // A dead supervisor stays visible in system.health for a day, then goes.
                    if age > 86_400, let id = all[index - 1].string { forgotten.append(id) }
                }
                index += 2
            }
            state.withLock { $0.liveLocations = live }
            if !forgotten.isEmpty {
                try await redis.send(RedisCommand("HDEL", arguments: [configuration.keys.supervisors] + forgotten))
            }
        } catch {
            logger.warning("cannot write the supervisor registration", metadata: ["error": "\(error)"])
        }
    }

    private func claimLoop() async {
        let keys = configuration.keys
        let streams = [keys.jobs, keys.jobs(in: configuration.location)]
        while !stopping {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.configuration.claimIdle / 3) }
            if stopping { return }
            // Keep our own jobs fresh, so nobody takes a job from a live supervisor.
            let mine = state.withLock { state in Array(state.inFlight.values) }
            for stream in streams {
                let ids = mine.filter { $0.stream == stream }.map(\.id)
                for chunk in stride(from: 0, to: ids.count, by: 1000) {
                    let part = ids[chunk..<min(chunk + 1000, ids.count)]
                    _ = try? await redis.send(RedisCommand("XCLAIM", arguments: [stream, keys.group, configuration.id, 0] + part.map { $0 as any RedisArgument } + ["JUSTID"]))
                }
            }
            // Take over jobs of supervisors that stopped refreshing theirs.
            for stream in streams {
                var start = "0-0"
                repeat {
                    let free = configuration.maximumInFlight - state.withLock { $0.inFlight.count }
                    guard free > 0 else { break }
                    guard let claim = try? await redis.xautoclaim(
                        stream, group: keys.group, consumer: configuration.id, minIdle: configuration.claimIdle,
                        start: start, count: min(free, 500)) else { break }
                    start = claim.nextStart
                    let entries = claim.entries.filter { !$0.fields.isEmpty }.map { entry -> RedisStreamEntry in
                        var entry = entry
                        entry.stream = stream
                        return entry
                    }
                    if !entries.isEmpty {
                        totals.withLock { $0.claimed += entries.count }
                        logger.warning("claimed jobs left pending by another supervisor", metadata: ["supervisor.claimed": "\(entries.count)"])
                        claimed(entries)
                    }
                } while start != "0-0"
            }
        }
    }

    private let claimedJobs = Mutex<[RedisStreamEntry]>([])

    private func claimed(_ entries: [RedisStreamEntry]) {
        for entry in entries { take(entry) }
        claimedJobs.withLock { $0 += entries }
        wakeContinuation.yield()
    }

    /// Stops taking jobs, lets the running ones finish for up to the grace, hands back the rest
    /// (a fresh entry on the same stream, acknowledged atomically), then stops the plugins.
    private func shutDown() async {
        let deadline = ContinuousClock.now + configuration.shutdownGrace
        while ContinuousClock.now < deadline, state.withLock({ !$0.inFlight.isEmpty }) {
            try? await Task.sleep(for: .milliseconds(20))
        }
        let left = state.withLock { state in
            // Those with a result in the outbox are finished; the flush writes them.
            let answered = Set(state.outbox.map { $0.stream + "\u{0}" + $0.entryID })
            return state.inFlight.filter { !answered.contains($0.key) }.map(\.value)
        }
        for entry in left {
            await move(entry, to: entry.stream)
        }
        if !left.isEmpty {
            totals.withLock { $0.handedBack += left.count }
            logger.info("handed back jobs still running at shutdown", metadata: ["supervisor.handed_back": "\(left.count)"])
        }
        await withDiscardingTaskGroup { group in
            for pool in pools {
                group.addTask { await pool.stop() }
            }
        }
    }
}

/// Lets the pools, created in `init`, call back into the supervisor.
private final class ChangeBox: @unchecked Sendable {
    // @unchecked: set once in Supervisor.init before any pool runs; only read afterwards.
    weak var supervisor: Supervisor?
}
