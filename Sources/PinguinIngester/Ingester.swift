import Foundation
public import Logging
import PinguinClientKit
import PinguinModel
public import PinguinNotify
public import PinguinRedis
public import PinguinScheduler
public import PinguinStore
public import ServiceLifecycle
import Synchronization

/// The ingester role: moves check results from the Redis results stream into PostgreSQL.
///
/// Reads through a consumer group (so any number of ingesters share the stream), writes each batch
/// in one transaction (``ResultStorage/write(_:)``, idempotent on the slot), and acknowledges and
/// deletes the entries only after that transaction committed. If PostgreSQL is down the batch is
/// retried with backoff and everything else waits in Redis; entries left pending by an ingester
/// that died are claimed by another after ``Configuration/claimIdle``. A malformed entry is stored
/// in `results_rejected` with the reason, never dropped silently. After each commit the batch is
/// published as `result` events (``EventPublisher``); results of manual runs (`monitor.run`) are
/// only published, not stored, since they stand for no slot.
public final class Ingester: Service, Sendable {
    public struct Configuration: Sendable {
        /// The results stream. Default `{pinguin}:results` (see proto-docs/redis.md).
        public var stream = "{pinguin}:results"
        /// The consumer group all ingesters share. Default `ingesters`.
        public var group = "ingesters"
        /// This process's consumer name; each worker appends `-N`. Default `HOST-PID`.
        public var consumer = "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
        /// Parallel read-write loops in this process. Default 2.
        public var workers = 2
        /// Most results written in one transaction. Default 20000.
        public var batchSize = 20_000
        /// How long a read waits for the first entry; also the longest a result waits to be written. Default 200 ms.
        public var flushInterval: Duration = .milliseconds(200)
        /// Entries pending this long on any consumer are taken over. Default 60 s: longer than any check's deadline.
        public var claimIdle: Duration = .seconds(60)
        /// How often hour, day and month rollups are built for periods that are over. Default 60 s.
        public var rollupInterval: Duration = .seconds(60)
        /// How often partitions and retention are maintained. Default 10 minutes.
        public var maintenanceInterval: Duration = .seconds(600)
        public var retention = RetentionPolicy()
        /// The scheduler's keys: the in-flight marks of jobs whose results are stored are released.
        public var schedulerKeys = SchedulerKeys.standard
        /// How long the maintenance windows read for one batch serve the next ones: a window
        /// created or changed takes effect within this. Default 5 s.
        public var maintenanceWindowRefresh: Duration = .seconds(5)

        public init() {}
    }

    /// Running totals since start.
    public struct Statistics: Sendable, Hashable {
        public var inserted = 0
        public var duplicates = 0
        public var orphans = 0
        public var rejected = 0
        public var batches = 0
        public var failedAttempts = 0
        public var claimed = 0
        /// Results of manual runs, published but not stored.
        public var manual = 0
        /// Results stored as `maintenance` because their slot fell in a maintenance window.
        public var maintenance = 0
    }

    public let configuration: Configuration
    private let redis: RedisClient
    private let storage: any ResultStorage
    private let rejects: RejectedResultStore
    private let logger: Logger
    private let publisher: EventPublisher
    private let totals = Mutex(Statistics())
    /// Sends the notifications the status engine queues; nil: this ingester sends none (others do).
    public let notifications: OutboxDispatcher?
    /// Reads the maintenance windows (``MaintenanceCalendar/load(client:)``); nil: none apply.
    private let loadCalendar: (@Sendable () async throws -> MaintenanceCalendar)?
    private let calendar = Mutex<(calendar: MaintenanceCalendar, loaded: ContinuousClock.Instant)?>(nil)

    public init(
        configuration: Configuration, redis: RedisClient, storage: any ResultStorage, rejects: RejectedResultStore, logger: Logger,
        notifications: OutboxDispatcher? = nil, maintenanceWindows: (@Sendable () async throws -> MaintenanceCalendar)? = nil
    ) {
        self.loadCalendar = maintenanceWindows
        self.configuration = configuration
        self.redis = redis
        self.storage = storage
        self.rejects = rejects
        self.logger = logger
        self.notifications = notifications
        publisher = EventPublisher(redis: redis)
    }

    public var statistics: Statistics { totals.withLock { $0 } }

    public func run() async throws {
        try await redis.xgroupCreate(configuration.stream, group: configuration.group, startID: "0")
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<configuration.workers {
                group.addTask { await self.workerLoop(consumer: "\(self.configuration.consumer)-\(index)") }
            }
            group.addTask { await self.maintenanceLoop() }
            if let notifications {
                // On a graceful shutdown it stops claiming; deliveries under way finish first.
                group.addTask { try? await cancelWhenGracefulShutdown { await notifications.run() } }
            }
            await group.waitForAll()
        }
    }

    private var stopping: Bool { Task.isCancelled || Task.isShuttingDownGracefully }

    private func workerLoop(consumer: String) async {
        var lastClaim = ContinuousClock.now - configuration.claimIdle
        var backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(5))
        while !stopping {
            do {
                var entries: [RedisStreamEntry]
                if ContinuousClock.now - lastClaim >= configuration.claimIdle / 2 {
                    lastClaim = .now
                    let claimed = try await redis.xautoclaim(
                        configuration.stream, group: configuration.group, consumer: consumer,
                        minIdle: configuration.claimIdle, count: configuration.batchSize)
                    entries = claimed.entries
                    if !entries.isEmpty {
                        totals.withLock { $0.claimed += entries.count }
                        logger.warning("claimed results left pending by another ingester", metadata: [
                            "ingester.consumer": "\(consumer)", "ingester.claimed": "\(entries.count)",
                        ])
                    }
                } else {
                    entries = []
                }
                if entries.isEmpty {
                    entries = try await cancelWhenGracefulShutdown {
                        try await self.redis.xreadgroup(
                            self.configuration.stream, group: self.configuration.group, consumer: consumer,
                            count: self.configuration.batchSize, block: self.configuration.flushInterval)
                    }
                }
                backoff.reset()
                if !entries.isEmpty { await store(entries, consumer: consumer) }
            } catch {
                if stopping { break }
                logger.error("reading the results stream failed", metadata: ["ingester.consumer": "\(consumer)", "error": "\(error)"])
                try? await Task.sleep(for: backoff.next())
            }
        }
    }

    /// Writes one batch until it is committed (or the process stops), then acknowledges it.
    private func store(_ entries: [RedisStreamEntry], consumer: String) async {
        var valid: [CheckResult] = []
        var rejected: [RejectedResult] = []
        valid.reserveCapacity(entries.count)
        for entry in entries {
            do {
                valid.append(try CheckResult(streamFields: entry.fields))
            } catch {
                rejected.append(RejectedResult(streamID: entry.id, reason: error.description, fields: entry.fields))
            }
        }
        var backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(5))
        while true {
            do {
                if !rejected.isEmpty {
                    try await rejects.store(rejected)
                }
                // Slots in a maintenance window are stored as `maintenance`. The windows are read
                // before the first batch (a failure to read them retries the batch: a result
                // must never alert because its window was not known).
                let (stored, covered) = try await maintenanceCalendar().apply(to: valid.filter { !$0.manual })
                let outcome = try await storage.write(stored)
                try await acknowledge(entries.map(\.id))
                let manual = valid.count { $0.manual }
                totals.withLock { totals in
                    totals.manual += manual
                    totals.maintenance += covered
                    totals.inserted += outcome.inserted
                    totals.duplicates += outcome.duplicates
                    totals.orphans += outcome.orphans
                    totals.rejected += rejected.count
                    totals.batches += 1
                }
                if !rejected.isEmpty {
                    logger.warning("rejected malformed results", metadata: [
                        "ingester.rejected": "\(rejected.count)", "ingester.first_reason": "\(rejected[0].reason)",
                    ])
                }
                // The job is over: its monitor may be dispatched again (the scheduler's one-in-flight rule).
                let finished = valid.compactMap { result in result.manual ? nil : result.job.map { (monitor: result.monitorID, job: $0) } }
                do {
                    try await InFlightMarks(redis: redis, keys: configuration.schedulerKeys).release(finished)
                } catch {
                    logger.warning("releasing in-flight marks failed; they expire on their own", metadata: ["error": "\(error)"])
                }
                do {
                    try await updateFailing(outcome.failing, batch: stored)
                } catch {
                    logger.warning("updating the failing set failed; the scheduler's next reconciliation mends it", metadata: ["error": "\(error)"])
                }
                do {
                    try await publisher.publish(
                        results: stored + valid.filter(\.manual), statusChanges: outcome.statusChanges, incidents: outcome.incidentUpdates)
                } catch {
                    // Events are a live view, not a record: the results are stored.
                    logger.warning("publishing result events failed", metadata: ["error": "\(error)"])
                }
                return
            } catch {
                totals.withLock { $0.failedAttempts += 1 }
                logger.error("storing results failed; retrying", metadata: [
                    "ingester.consumer": "\(consumer)", "ingester.batch": "\(entries.count)", "error": "\(error)",
                ])
                // Stopping now is safe: the entries stay pending and another ingester claims them.
                if stopping { return }
                try? await Task.sleep(for: backoff.next())
                if stopping { return }
            }
        }
    }

    /// The maintenance windows, read again once they are older than ``Configuration/maintenanceWindowRefresh``.
    private func maintenanceCalendar() async throws -> MaintenanceCalendar {
        guard let loadCalendar else { return .empty }
        if let cached = calendar.withLock({ $0 }), ContinuousClock.now - cached.loaded < configuration.maintenanceWindowRefresh {
            return cached.calendar
        }
        let loaded = try await loadCalendar()
        calendar.withLock { $0 = (loaded, .now) }
        return loaded
    }

    /// Keeps `{pinguin}:failing` (monitors checked at their retry interval) as the status engine
    /// left the batch's monitors: in it while failing but not yet confirmed down, out of it
    /// otherwise; a failing monitor's next check comes at its newest slot plus its retry interval.
    private func updateFailing(_ failing: [Int64: Bool], batch: [CheckResult]) async throws {
        guard !failing.isEmpty else { return }
        var newest: [Int64: Date] = [:]
        for result in batch where failing[result.monitorID] == true {
            newest[result.monitorID] = max(newest[result.monitorID] ?? result.scheduledAt, result.scheduledAt)
        }
        try await FailingSet(redis: redis, keys: configuration.schedulerKeys).update(
            failing: newest.sorted { $0.key < $1.key }.map { (monitor: $0.key, slot: $0.value) },
            others: failing.filter { !$0.value }.keys.sorted())
    }

    private func acknowledge(_ ids: [String]) async throws {
        let replies = try await redis.pipeline([
            RedisCommand("XACK", arguments: [configuration.stream, configuration.group] + ids),
            RedisCommand("XDEL", arguments: [configuration.stream] + ids),
        ])
        if let error = replies.first(where: { if case .error = $0 { true } else { false } }) {
            throw RedisError(code: .server, message: error.string ?? "\(error)")
        }
    }

    private func maintenanceLoop() async {
        var lastFull: ContinuousClock.Instant?
        while !stopping {
            do {
                if lastFull.map({ ContinuousClock.now - $0 >= configuration.maintenanceInterval }) ?? true {
                    lastFull = .now
                    _ = try await storage.maintain(now: Date(), retention: configuration.retention)
                } else {
                    _ = try await storage.buildRollups(now: Date())
                }
            } catch {
                logger.error("result storage maintenance failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown {
                try await Task.sleep(for: self.configuration.rollupInterval)
            }
        }
    }
}
