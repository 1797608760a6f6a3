import ArgumentParser
import Foundation
import Logging
import PinguinPostgres
import PinguinRedis

/// `pinguin-bench`: throughput of the storage wrappers against real servers. `scripts/bench`
/// runs it next to `pgbench` and `redis-benchmark` on the same servers and prints one table.
@main
struct PinguinBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pinguin-bench",
        abstract: "Benchmarks of Pinguin's PostgreSQL and Redis clients, supervisor and checker plugins (prints tab-separated figures).",
        subcommands: [CopyBench.self, RedisBench.self, WriteBench.self, IngestBench.self, UptimeBench.self, RPCBench.self, SchedulerBench.self, SupervisorBench.self, CheckersBench.self]
    )
}

struct Common: ParsableArguments {
    @Option(help: "PostgreSQL connection string (default $PINGUIN_DATABASE_URL).")
    var databaseURL: String?

    @Option(help: "Redis URL (default $PINGUIN_REDIS_URL).")
    var redisURL: String?

    var logger: Logger { Logger(label: "pinguin-bench") { _ in SwiftLogNoOpLogHandler() } }

    func postgres() throws -> PostgresConfiguration {
        guard let url = databaseURL ?? ProcessInfo.processInfo.environment["PINGUIN_DATABASE_URL"] else {
            throw ValidationError("set PINGUIN_DATABASE_URL or pass --database-url")
        }
        return try PostgresConfiguration(url)
    }

    func redis() throws -> RedisConfiguration {
        guard let url = redisURL ?? ProcessInfo.processInfo.environment["PINGUIN_REDIS_URL"] else {
            throw ValidationError("set PINGUIN_REDIS_URL or pass --redis-url")
        }
        return try RedisConfiguration(url: url)
    }
}

/// CPU seconds used by this process so far (user + system).
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
}

extension Duration {
    var seconds: Double {
        let (whole, fraction) = components
        return Double(whole) + Double(fraction) / 1e18
    }
}

/// Wall time and this process's CPU seconds spent in `body`.
func measure(_ body: () async throws -> Void) async rethrows -> (elapsed: Duration, cpu: Double) {
    let cpuBefore = processCPUSeconds()
    let start = ContinuousClock.now
    try await body()
    return (ContinuousClock.now - start, processCPUSeconds() - cpuBefore)
}

/// Prints one result line: `name<TAB>value<TAB>unit<TAB>note`.
func report(_ name: String, _ value: Double, _ unit: String, _ note: String = "") {
    print("\(name)\t\(String(format: "%.0f", value))\t\(unit)\t\(note)")
}

struct CopyBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy", abstract: "Rows/s of binary COPY through PostgresClient.")

    @OptionGroup var common: Common

    @Option(help: "Rows to write in all.")
    var rows = 1_000_000

    @Option(help: "Rows per COPY statement.")
    var batch = 50_000

    func run() async throws {
        let client = PostgresClient(try common.postgres(), logger: common.logger)
        try await client.query("DROP TABLE IF EXISTS bench_results, bench_accounts")
        // Shaped like a check result row.
        try await client.query("""
            CREATE UNLOGGED TABLE bench_results (monitor_id bigint, scheduled_at timestamptz, location text,
                status text, latency_ms double precision, message text, details jsonb)
            """)
        // Shaped like pgbench_accounts, for the side-by-side with `pgbench -i`.
        try await client.query("CREATE UNLOGGED TABLE bench_accounts (aid int, bid int, abalance int, filler char(84))")

        let base = Date()
        let filler = String(repeating: " ", count: 84)
        for (name, table) in [("copy.results", "bench_results"), ("copy.pgbench_accounts", "bench_accounts")] {
            var encodeTime = Duration.zero
            var written = 0
            let (elapsed, cpu) = try await measure {
                while written < rows {
                    let count = min(batch, rows - written)
                    let encodeStart = ContinuousClock.now
                    var copy: PostgresCopyBatch
                    if table == "bench_results" {
                        copy = PostgresCopyBatch(columnCount: 7, reservingBytes: count * 120)
                        for i in written..<(written + count) {
                            try copy.appendRow(
                                i % 10_000, base.addingTimeInterval(Double(i / 10_000)), "local", i % 50 == 0 ? "down" : "up",
                                Double(i % 997) / 10, i % 50 == 0 ? "connection refused" : "200 OK",
                                PostgresJSONB(text: #"{"status_code":200}"#))
                        }
                    } else {
                        copy = PostgresCopyBatch(columnCount: 4, reservingBytes: count * 120)
                        for i in written..<(written + count) {
                            try copy.appendRow(Int32(i + 1), Int32(i / 100_000 + 1), Int32(0), filler)
                        }
                    }
                    encodeTime += ContinuousClock.now - encodeStart
                    try await client.copy("COPY \(table) FROM STDIN (FORMAT binary)", batch: copy)
                    written += count
                }
            }
            report(name, Double(rows) / elapsed.seconds, "rows/s",
                   "\(rows) rows in \(String(format: "%.2f", elapsed.seconds)) s, batches of \(batch); client CPU \(String(format: "%.2f", cpu)) s, encoding \(String(format: "%.2f", encodeTime.seconds)) s")
        }
        try await client.query("DROP TABLE bench_results, bench_accounts")
        await client.close()
    }
}

struct RedisBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "redis", abstract: "Ops/s of pipelined commands through RedisClient.")

    @OptionGroup var common: Common

    @Option(help: "Commands to send in all, per test.")
    var operations = 1_000_000

    @Option(help: "Commands per pipeline.")
    var pipeline = 100

    @Option(help: "Concurrent pipelines (connections).")
    var clients = 1

    func run() async throws {
        var options = RedisClient.Configuration()
        options.maximumConnections = clients
        let client = RedisClient(try common.redis(), configuration: options, logger: common.logger)
        let value = [UInt8](repeating: 120, count: 3)
        let tests: [(String, @Sendable (Int) -> RedisCommand)] = [
            ("redis.set", { i in RedisCommand("SET", "bench:key:\(i % 100_000)", value) }),
            ("redis.get", { i in RedisCommand("GET", "bench:key:\(i % 100_000)") }),
            ("redis.xadd", { i in RedisCommand("XADD", "bench:stream", "MAXLEN", "~", 100_000, "*", "job", i) }),
        ]
        for (name, make) in tests {
            let perClient = operations / clients
            let (elapsed, cpu) = try await measure {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for c in 0..<clients {
                        group.addTask {
                            var sent = 0
                            while sent < perClient {
                                let count = min(pipeline, perClient - sent)
                                let commands = (0..<count).map { make(c * perClient + sent + $0) }
                                let replies = try await client.pipeline(commands)
                                if case .error(let message) = replies.first { throw RedisError(code: .server, message: message) }
                                sent += count
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            report(name, Double(perClient * clients) / elapsed.seconds, "ops/s",
                   "pipeline \(pipeline), \(clients) connection(s); client CPU \(String(format: "%.2f", cpu)) s")
        }
        try await client.send("DEL", "bench:stream")
        await client.close()
    }
}
