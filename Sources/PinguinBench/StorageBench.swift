import ArgumentParser
import Foundation
import Logging
import PinguinIngester
import PinguinModel
import PinguinPostgres
import PinguinRedis
import PinguinStore

/// A database of its own for a benchmark, created fresh, migrated, and dropped afterwards.
func withBenchDatabase<T: Sendable>(_ server: PostgresConfiguration, logger: Logger, _ body: (PostgresClient) async throws -> T) async throws -> T {
    let name = "pinguin_bench_\(ProcessInfo.processInfo.processIdentifier)"
    let admin = try await PostgresConnection.connect(configuration: server, logger: logger)
    try await admin.execute(script: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    try await admin.execute(script: "CREATE DATABASE \(name)")
    var options = PostgresClient.Configuration()
    options.maximumConnections = 8
    let client = PostgresClient(server.setting("dbname", to: name), configuration: options, logger: logger)
    do {
        try await MigrationRunner(client: client, logger: logger).up()
        let result = try await body(client)
        await client.close()
        try await admin.execute(script: "DROP DATABASE \(name) WITH (FORCE)")
        await admin.close()
        return result
    } catch {
        await client.close()
        _ = try? await admin.execute(script: "DROP DATABASE \(name) WITH (FORCE)")
        await admin.close()
        throw error
    }
}

/// Creates `count` monitors with one statement; returns their ids.
func createMonitors(_ client: PostgresClient, count: Int) async throws -> [Int64] {
    let rows = try await client.query("""
        INSERT INTO monitors (name, kind, target, interval_ms, timeout_ms, retry_interval_ms)
        SELECT 'bench-' || i, 'http', 'http://127.0.0.1/', 60000, 10000, 20000 FROM generate_series(1, $1) AS i
        RETURNING id
        """, [count])
    return try rows.map { try $0.decode(Int64.self, column: 0) }
}

/// The `index`th result of a benchmark: monitors in turn, one slot per minute each, from `base`.
func benchResult(_ index: Int, monitors ids: [Int64], base: Date) -> CheckResult {
    let slot = base.addingTimeInterval(Double(index / ids.count) * 60)
    return CheckResult(
        monitorID: ids[index % ids.count], scheduledAt: slot, status: index % 50 == 0 ? .down : .up,
        slotMilliseconds: 60_000, startedAt: slot, finishedAt: slot.addingTimeInterval(0.012),
        latencyMilliseconds: Double(index % 997) / 10, message: "200 OK",
        phases: #"{"dns":0.1,"connect":0.2,"first_byte":3.1}"#, details: #"{"status_code":200}"#, supervisor: "bench")
}

/// Options the result benchmarks share.
struct ResultOptions: ParsableArguments {
    @Option(help: "Results to write.")
    var results = 300_000

    @Option(help: "Monitors the results belong to.")
    var monitors = 10_000

    @Option(help: "Results per transaction.")
    var batchSize = 20_000
}

struct IngestBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Results/s from the Redis results stream into PostgreSQL, committed and acknowledged.")

    @OptionGroup var common: Common
    @OptionGroup var options: ResultOptions

    @Option(help: "Ingester read-write loops.")
    var workers = 2

    func run() async throws {
        let logger = common.logger
        try await withBenchDatabase(try common.postgres(), logger: logger) { postgres in
            let ids = try await createMonitors(postgres, count: options.monitors)
            var redisOptions = RedisClient.Configuration()
            redisOptions.maximumConnections = workers + 2
            let redis = RedisClient(try common.redis(), configuration: redisOptions, logger: logger)
            let stream = "bench:{pinguin}:results:\(ProcessInfo.processInfo.processIdentifier)"
            try await redis.send("DEL", stream)

            // Fill the stream first, as a backlog the ingester then drains.
            let base = Date().addingTimeInterval(-3_600)
            let fillStart = ContinuousClock.now
            var index = 0
            while index < options.results {
                let end = min(options.results, index + 1_000)
                let commands = (index..<end).map { i -> RedisCommand in
                    let result = benchResult(i, monitors: ids, base: base)
                    return RedisClient.xaddCommand(stream, fields: result.streamFields.map { ($0.0, $0.1 as any RedisArgument) })
                }
                _ = try await redis.pipeline(commands)
                index = end
            }
            let fill = ContinuousClock.now - fillStart
            report("ingest.stream_fill", Double(options.results) / fill.seconds, "xadd/s", "\(options.results) results into the stream")

            var configuration = Ingester.Configuration()
            configuration.stream = stream
            configuration.workers = workers
            configuration.batchSize = options.batchSize
            configuration.flushInterval = .milliseconds(50)
            let ingester = Ingester(
                configuration: configuration, redis: redis,
                storage: PartitionedResultStorage(client: postgres, logger: logger),
                rejects: RejectedResultStore(client: postgres), logger: logger)
            let (elapsed, cpu) = try await measure {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await ingester.run() }
                    while ingester.statistics.inserted + ingester.statistics.duplicates < options.results {
                        try await Task.sleep(for: .milliseconds(10))
                    }
                    group.cancelAll()
                }
            }
            let left = try await redis.send("XLEN", stream).int ?? -1
            let stats = ingester.statistics
            report("ingest.end_to_end", Double(options.results) / elapsed.seconds, "rows/s",
                   "\(options.results) results, \(options.monitors) monitors, \(workers) workers, batches of \(options.batchSize): \(String(format: "%.2f", elapsed.seconds)) s; \(stats.batches) batches; ingester CPU \(String(format: "%.1f", cpu * 1e6 / Double(options.results))) µs/result; \(left) left in stream")
            try await redis.send("DEL", stream)
            await redis.close()
        }
    }
}

struct UptimeBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "uptime", abstract: "Time of a 365-day uptime query over many monitors.")

    @OptionGroup var common: Common

    @Option(help: "Monitors.")
    var monitors = 10_000

    @Option(help: "Days of history.")
    var days = 365

    @Option(help: "Query repetitions.")
    var runs = 5

    func run() async throws {
        let logger = common.logger
        try await withBenchDatabase(try common.postgres(), logger: logger) { postgres in
            _ = try await createMonitors(postgres, count: monitors)
            // A year as the ingester would have left it for one-minute monitors: day rollups for the
            // whole year, hour rollups for the edge days, minute rollups for the edge hours, raw
            // results for the edge minutes. The query's edges fall mid-hour, so every level is read.
            let now = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 / 60).rounded(.down) * 60 + 30)
            let from = now.addingTimeInterval(-Double(days) * 86_400)
            let storage = PartitionedResultStorage(client: postgres, logger: logger)
            _ = try await storage.maintain(now: now, retention: RetentionPolicy())
            for table in ["results", "results_rollup_1m"] {
                try await postgres.query(
                    "SELECT pinguin_ensure_daily_partitions($1::regclass, ($2::timestamptz AT TIME ZONE 'UTC')::date - 1, ($2::timestamptz AT TIME ZONE 'UTC')::date + 1)",
                    [table, from])
            }
            let populateStart = ContinuousClock.now
            let columns = "monitor_id, bucket, checks, up_checks, degraded_checks, down_checks, unknown_checks, maintenance_checks, other_checks, up_ms, down_ms, excluded_ms, latency_count, latency_sum, latency_min, latency_max"
            func fill(_ table: String, unit: String, count: Int, step: String, around: Date, slotsPerBucket: Int) async throws {
                try await postgres.query("""
                    INSERT INTO \(table) (\(columns))
                    SELECT m.id, date_trunc('\(unit)', $1::timestamptz, 'UTC') + s * interval '\(step)',
                        $2, $2 - (m.id % 3), 0, m.id % 3, 0, 0, 0, ($2 - (m.id % 3)) * 60000, (m.id % 3) * 60000, 0,
                        $2, $2 * 12.5, 3.0, 90.0
                    FROM monitors m, generate_series($3::int, $4::int) AS s
                    """, [around, Int32(slotsPerBucket), Int32(-count), Int32(count)])
            }
            try await fill("results_rollup_1d", unit: "day", count: days / 2 + 1, step: "1 day",
                           around: now.addingTimeInterval(-Double(days) * 43_200), slotsPerBucket: 1440)
            for edge in [from, now] {
                try await fill("results_rollup_1h", unit: "hour", count: 24, step: "1 hour", around: edge, slotsPerBucket: 60)
                try await fill("results_rollup_1m", unit: "minute", count: 60, step: "1 minute", around: edge, slotsPerBucket: 1)
            }
            // Months are built from days by the ingester's maintenance pass as each month ends; the
            // history was written all at once here, so let one pass build them all.
            try await postgres.query("UPDATE results_rollup_state SET complete_through = '-infinity'")
            _ = try await storage.maintain(now: now, retention: RetentionPolicy())
            try await postgres.query("ANALYZE")
            let rows = try await postgres.query("""
                SELECT (SELECT count(*) FROM results_rollup_1d), (SELECT count(*) FROM results_rollup_1h),
                       (SELECT count(*) FROM results_rollup_1m), (SELECT count(*) FROM results_rollup_1mo)
                """)
            let populate = ContinuousClock.now - populateStart
            var timings: [Double] = []
            var answered = 0
            for _ in 0..<runs {
                let start = ContinuousClock.now
                let uptime = try await storage.uptime(monitorIDs: nil, from: from, to: now)
                timings.append((ContinuousClock.now - start).seconds * 1000)
                answered = uptime.count
            }
            timings.sort()
            report("uptime.365d_all_monitors", timings[timings.count / 2], "ms",
                   "median of \(runs) (min \(String(format: "%.0f", timings.first!)), max \(String(format: "%.0f", timings.last!))); \(answered) monitors answered; rollup rows 1mo/1d/1h/1m: \(try rows[0].decode(Int.self, column: 3))/\(try rows[0].decode(Int.self, column: 0))/\(try rows[0].decode(Int.self, column: 1))/\(try rows[0].decode(Int.self, column: 2)), populated in \(String(format: "%.0f", populate.seconds)) s")
            let ids = Array(1...100).map(Int64.init)
            let start = ContinuousClock.now
            _ = try await storage.uptime(monitorIDs: ids, from: from, to: now)
            report("uptime.365d_100_monitors", (ContinuousClock.now - start).seconds * 1000, "ms", "one query")
        }
    }
}

struct WriteBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "write", abstract: "Results/s through ResultStorage.write alone (no Redis), one writer.")

    @OptionGroup var common: Common
    @OptionGroup var options: ResultOptions

    @Option(help: "Concurrent writers.")
    var writers = 1

    func run() async throws {
        let logger = common.logger
        try await withBenchDatabase(try common.postgres(), logger: logger) { postgres in
            let ids = try await createMonitors(postgres, count: options.monitors)
            let storage = PartitionedResultStorage(client: postgres, logger: logger)
            let base = Date().addingTimeInterval(-3_600)
            let all = (0..<options.results).map { benchResult($0, monitors: ids, base: base) }
            let batches = stride(from: 0, to: options.results, by: options.batchSize).map { Array(all[$0..<min(options.results, $0 + options.batchSize)]) }
            let (elapsed, cpu) = try await measure {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for w in 0..<writers {
                        group.addTask {
                            for (index, batch) in batches.enumerated() where index % writers == w {
                                _ = try await storage.write(batch)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            report("store.write", Double(options.results) / elapsed.seconds, "rows/s",
                   "\(options.results) results, batches of \(options.batchSize), \(writers) writer(s); client CPU \(String(format: "%.1f", cpu * 1e6 / Double(options.results))) µs/result")
        }
    }
}
