import Foundation
public import Logging
import PinguinClientKit
public import PinguinPostgres
public import PinguinRedis
public import ServiceLifecycle
import Synchronization

/// The scheduler role: one leader at a time dispatches due slots into the jobs stream.
///
/// Every instance tries to take the lease (`SET NX PX`, with a fencing token raised at each new
/// leader) and renews it well before it expires; the others stay warm as standbys and take over
/// within one lease after the leader dies. The dispatch script checks lease and token inside
/// Redis, so a paused former leader cannot dispatch once its lease is gone. The leader reconciles
/// Redis with PostgreSQL when it takes over, periodically, and at once for monitors the control
/// plane reports changed (`{pinguin}:changes`).
public final class Scheduler: Service, Sendable {
    public struct Configuration: Sendable {
        /// This instance's name in the lease. Default `HOST-PID-RANDOM`.
        public var instanceID = "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))"
        /// How long the lease lasts without renewal: the longest a dead leader delays failover. Default 5 s.
        public var lease: Duration = .seconds(5)
        /// How often the lease is renewed (and standbys try to take it). Default 1 s.
        public var renewInterval: Duration = .seconds(1)
        /// Pause between dispatch rounds when nothing more is due. Default 10 ms.
        public var tick: Duration = .milliseconds(10)
        /// Most monitors one dispatch call takes. Default 500.
        public var batchSize = 500
        /// Most missed-slot rows one call records per monitor. Default 100.
        public var maximumMissedPerCall = 100
        /// Added to a job's timeout before its in-flight mark counts as stale. Default 90 s:
        /// longer than the supervisors' claim time, so a claimed job is not dispatched twice.
        public var inFlightGrace: Duration = .seconds(90)
        /// How often everything is reconciled with PostgreSQL. Default 60 s.
        public var reconcileInterval: Duration = .seconds(60)
        public var keys = SchedulerKeys.standard
        /// Give the lease up when stopping, so a standby takes over at once. Tests turn it off to
        /// act out a crash. Default true.
        public var resignOnStop = true

        public init() {}
    }

    /// What this instance did since it started.
    public struct Statistics: Sendable, Hashable {
        public var dispatched = 0
        public var skipped = 0
        public var paused = 0
        public var missed = 0
        public var leaderships = 0
        public var fencingToken: Int64?
        /// Lag (dispatch − slot) of recent dispatches, µs, at most 100,000 kept.
        public var recentLags: [Int64] = []
    }

    public let configuration: Configuration
    private let redis: RedisClient
    private let reconciler: Reconciler
    private let subscriber: RedisSubscriber
    private let logger: Logger
    private let state = Mutex(Statistics())

    public init(configuration: Configuration, postgres: PostgresClient, redis: RedisClient, logger: Logger) {
        self.configuration = configuration
        self.redis = redis
        reconciler = Reconciler(postgres: postgres, redis: redis, keys: configuration.keys)
        subscriber = RedisSubscriber(redis.connection, logger: logger)
        self.logger = logger
    }

    public var statistics: Statistics { state.withLock { $0 } }

    /// The lags recorded since the last call (µs), emptying the record (benchmarks take windows).
    public func takeLags() -> [Int64] {
        state.withLock { stats in
            defer { stats.recentLags = [] }
            return stats.recentLags
        }
    }

    /// The fencing token while this instance leads; nil otherwise.
    public var leadingToken: Int64? { state.withLock { $0.fencingToken } }

    private var stopping: Bool { Task.isCancelled || Task.isShuttingDownGracefully }

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await self.subscriber.run() }
            group.addTask { await self.leadershipLoop() }
            group.addTask { await self.dispatchLoop() }
            group.addTask { await self.changesLoop() }
            await group.next()
            group.cancelAll()
        }
        if configuration.resignOnStop {
            _ = try? await redis.evaluate(SchedulerScripts.resign, keys: [configuration.keys.leader], arguments: [configuration.instanceID])
        }
    }

    private func leadershipLoop() async {
        let keys = configuration.keys
        var lastReconcile: ContinuousClock.Instant?
        while !stopping {
            do {
                let reply = try await redis.evaluate(SchedulerScripts.lease, keys: [keys.leader, keys.epoch],
                                                     arguments: [configuration.instanceID, configuration.lease.wholeMilliseconds])
                let token = reply.int.map(Int64.init) ?? -1
                let previous = state.withLock { $0.fencingToken }
                if token > 0 {
                    if previous != token {
                        logger.notice("scheduler leads", metadata: ["scheduler.instance": "\(configuration.instanceID)", "scheduler.fencing_token": "\(token)"])
                        // Make Redis match PostgreSQL before the first dispatch.
                        let outcome = try await reconciler.reconcileAll()
                        lastReconcile = .now
                        logger.info("scheduler reconciled", metadata: ["scheduler.monitors": "\(outcome.monitors)", "scheduler.added": "\(outcome.added)",
                                                                       "scheduler.removed": "\(outcome.removed)"])
                        state.withLock {
                            $0.fencingToken = token
                            $0.leaderships += 1
                        }
                    } else if lastReconcile.map({ ContinuousClock.now - $0 >= configuration.reconcileInterval }) ?? true {
                        lastReconcile = .now
                        try await reconciler.reconcileAll()
                    }
                } else if previous != nil {
                    logger.warning("scheduler lost the lease", metadata: ["scheduler.instance": "\(configuration.instanceID)"])
                    state.withLock { $0.fencingToken = nil }
                }
                try await publishStatistics()
            } catch {
                if stopping { break }
                // Without Redis we cannot know whether we still lead: stop dispatching (the
                // script would refuse anyway) until the lease is confirmed again.
                state.withLock { $0.fencingToken = nil }
                logger.error("scheduler lease renewal failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.configuration.renewInterval) }
        }
    }

    private func dispatchLoop() async {
        let keys = configuration.keys
        var backoff = Backoff(initial: .milliseconds(50), maximum: .seconds(2))
        while !stopping {
            guard let token = leadingToken else {
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(100)) }
                continue
            }
            do {
                let reply = try await redis.evaluate(
                    SchedulerScripts.dispatch, keys: keys.dispatchKeys,
                    arguments: [configuration.instanceID, String(token), configuration.batchSize, configuration.maximumMissedPerCall,
                                configuration.inFlightGrace.wholeMilliseconds])
                let values = (reply.array ?? []).compactMap(\.int)
                backoff.reset()
                guard values.first == 1, values.count >= 5 else {
                    // The script refused: the lease is gone (or the token is old).
                    state.withLock { if $0.fencingToken == token { $0.fencingToken = nil } }
                    continue
                }
                let handled = values[1] + values[2] + values[3]
                state.withLock { stats in
                    stats.dispatched += values[1]
                    stats.skipped += values[2]
                    stats.paused += values[3]
                    stats.missed += values[4]
                    stats.recentLags.append(contentsOf: values.dropFirst(5).map(Int64.init))
                    if stats.recentLags.count > 100_000 { stats.recentLags.removeFirst(stats.recentLags.count - 100_000) }
                }
                // A full batch means more is due right now: go on at once.
                if handled + values[4] < configuration.batchSize {
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.configuration.tick) }
                }
            } catch {
                if stopping { break }
                logger.error("scheduler dispatch failed", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: backoff.next())
            }
        }
    }

    /// Reconciles monitors the control plane reports changed, while leading.
    private func changesLoop() async {
        // Subscribing waits for Redis; it fails only when the subscriber stops. Until it works,
        // the periodic reconciliation still catches every change.
        var backoff = Backoff(initial: .milliseconds(200), maximum: .seconds(10))
        var subscription: RedisSubscription?
        while subscription == nil, !stopping {
            subscription = try? await subscriber.subscribe(channels: [configuration.keys.changes], bufferSize: 10_000)
            if subscription == nil { try? await Task.sleep(for: backoff.next()) }
        }
        guard let changes = subscription else { return }
        for await event in changes {
            guard case .message(_, let payload) = event, leadingToken != nil else { continue }
            let ids = String(decoding: payload, as: UTF8.self).split(separator: ",").compactMap { Int64($0) }
            do {
                try await reconciler.reconcile(ids: ids)
            } catch {
                logger.error("scheduler could not reconcile changed monitors", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Writes this leader's figures where `system.health` reads them.
    private func publishStatistics() async throws {
        let snapshot = statistics
        guard let token = snapshot.fencingToken else { return }
        let lags = snapshot.recentLags.suffix(10_000).sorted()
        func percentile(_ p: Double) -> Int64 { lags.isEmpty ? 0 : lags[min(lags.count - 1, Int(Double(lags.count) * p))] }
        _ = try await redis.send(RedisCommand(
            "HSET", configuration.keys.statistics, "leader", configuration.instanceID, "fencing_token", Int(token),
            "dispatched", snapshot.dispatched, "skipped", snapshot.skipped, "paused", snapshot.paused, "missed", snapshot.missed,
            "lag_p50_us", Int(percentile(0.5)), "lag_p99_us", Int(percentile(0.99)), "lag_max_us", Int(lags.last ?? 0),
            "updated_at_ms", Int((Date().timeIntervalSince1970 * 1000).rounded())))
    }
}
