import ArgumentParser
import Foundation
import Logging
import PinguinPostgres
import PinguinRedis
import PinguinScheduler

/// The scheduler alone: how fast it can dispatch when everything is due at once, and its lag
/// (dispatch time − slot time) in steady state, with monitors of intervals from 10 to 300 s.
/// Jobs are trimmed from the stream as a fleet of supervisors would take them.
struct SchedulerBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduler", abstract: "Dispatch capacity and scheduler lag with many monitors.")

    @Option(help: "Monitors (intervals 10–300 s).")
    var monitors = 100_000

    @Option(help: "Seconds of steady state to measure lag over.")
    var seconds = 60

    @Option(help: "Monitors per dispatch call.")
    var batchSize = 500

    func run() async throws {
        let logger = Logger(label: "bench")
        let server = try PostgresConfiguration(ProcessInfo.processInfo.environment["PINGUIN_DATABASE_URL"] ?? "")
        let redisConfiguration = try RedisConfiguration(url: ProcessInfo.processInfo.environment["PINGUIN_REDIS_URL"] ?? "")
        try await withBenchDatabase(server, logger: logger) { postgres in
            _ = try await postgres.query("""
                INSERT INTO monitors (name, kind, target, interval_ms, timeout_ms, retry_interval_ms)
                SELECT 'sched-' || i, 'http', 'http://127.0.0.1/', 10000 + ((i * 7919) % 291) * 1000, 100, 10000
                FROM generate_series(1, $1) AS i
                """, [monitors])
            let redis = RedisClient(redisConfiguration, logger: logger)
            let keys = SchedulerKeys(prefix: "{pinguin-bench}")
            let all = [keys.due, keys.specs, keys.inFlight, keys.failing, keys.jobs, keys.results, keys.leader, keys.epoch, keys.statistics, keys.pushes]
            _ = try await redis.send(RedisCommand("DEL", arguments: all))
            defer { Task { _ = try? await redis.send(RedisCommand("DEL", arguments: all)) } }

            let reconcile = try await measure { try await Reconciler(postgres: postgres, redis: redis, keys: keys).reconcileAll() }
            report("scheduler.reconcile", reconcile.elapsed.seconds * 1000, "ms", "\(monitors) monitors from PostgreSQL into Redis")
            // Everything due at once.
            let now = Int((Date().timeIntervalSince1970 * 1000).rounded(.down)) - 1
            var commands: [RedisCommand] = []
            for start in stride(from: 1, through: monitors, by: 5_000) {
                let ids = (start..<min(start + 5_000, monitors + 1))
                commands.append(RedisCommand("ZADD", arguments: [keys.due] + ids.flatMap { [now, String($0)] as [any RedisArgument] }))
            }
            _ = try await redis.pipeline(commands)

            var configuration = Scheduler.Configuration()
            configuration.keys = keys
            configuration.batchSize = batchSize
            configuration.inFlightGrace = .zero
            configuration.reconcileInterval = .seconds(3_600)
            let scheduler = Scheduler(configuration: configuration, postgres: postgres, redis: redis, logger: logger)
            let task = Task { try await scheduler.run() }
            let trimmer = Task {
                while !Task.isCancelled {
                    _ = try? await redis.send("XTRIM", keys.jobs, "MAXLEN", "~", 10_000)
                    try? await Task.sleep(for: .milliseconds(200))
                }
            }
            defer {
                task.cancel()
                trimmer.cancel()
            }
            func redisCPU() async throws -> Double {
                let info = try await redis.send("INFO", "cpu").string ?? ""
                return info.split(whereSeparator: \.isNewline).reduce(0) { total, line in
                    let parts = line.split(separator: ":")
                    guard parts.count == 2, ["used_cpu_sys", "used_cpu_user"].contains(String(parts[0])) else { return total }
                    return total + (Double(parts[1]) ?? 0)
                }
            }
            // Capacity: from the first dispatch to the last of the backlog.
            while scheduler.statistics.dispatched == 0 { try await Task.sleep(for: .milliseconds(1)) }
            let redisBefore = try await redisCPU()
            let cpuBefore = processCPUSeconds()
            let start = ContinuousClock.now
            let first = scheduler.statistics.dispatched
            while scheduler.statistics.dispatched < monitors { try await Task.sleep(for: .milliseconds(2)) }
            let elapsed = (ContinuousClock.now - start).seconds
            let drained = scheduler.statistics.dispatched - first
            let redisUsed = try await redisCPU() - redisBefore
            let schedulerUsed = processCPUSeconds() - cpuBefore
            report("scheduler.dispatch_capacity", Double(drained) / elapsed, "jobs/s",
                   "\(drained) due at once, batches of \(batchSize): \(String(format: "%.2f", elapsed)) s; Redis CPU \(String(format: "%.1f", redisUsed * 1e6 / Double(drained))) µs/job, scheduler CPU \(String(format: "%.1f", schedulerUsed * 1e6 / Double(drained))) µs/job")

            // Steady state: slots at their own offsets. Slots that fell due while the backlog
            // drained were dispatched late by the backlog itself; let them pass first.
            try await Task.sleep(for: .seconds(5))
            _ = scheduler.takeLags()
            let steadyStart = scheduler.statistics.dispatched
            try await Task.sleep(for: .seconds(seconds))
            let lags = scheduler.takeLags().sorted()
            let steady = scheduler.statistics.dispatched - steadyStart
            func percentile(_ p: Double) -> Double { lags.isEmpty ? 0 : Double(lags[min(lags.count - 1, Int(Double(lags.count) * p))]) / 1000 }
            let statistics = scheduler.statistics
            report("scheduler.steady_dispatch", Double(steady) / Double(seconds), "jobs/s",
                   "\(monitors) monitors, intervals 10–300 s, over \(seconds) s; skipped \(statistics.skipped), missed \(statistics.missed)")
            print("scheduler.lag_p50\t\(String(format: "%.2f", percentile(0.5)))\tms\tdispatch − slot, \(lags.count) dispatches")
            print("scheduler.lag_p99\t\(String(format: "%.2f", percentile(0.99)))\tms\t")
            print("scheduler.lag_max\t\(String(format: "%.2f", Double(lags.last ?? 0) / 1000))\tms\t")
        }
    }
}
