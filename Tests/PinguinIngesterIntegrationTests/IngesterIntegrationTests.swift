import Foundation
import PinguinIngester
import PinguinModel
import PinguinNotify
import PinguinPostgres
import PinguinRedis
import PinguinScheduler
import PinguinStore
import PinguinTestSupport
import Testing

/// A migrated temporary database, a stream of its own, and ingesters to run against them.
struct Fixture {
    let postgres: PostgresClient
    let redis: RedisClient
    let stream: String
    let monitors: [Int64]

    func ingester(
        consumer: String, claimIdle: Duration = .seconds(60), batchSize: Int = 2_000, schedulerKeys: SchedulerKeys? = nil, workers: Int? = nil,
        notifications: OutboxDispatcher? = nil
    ) -> Ingester {
        var configuration = Ingester.Configuration()
        if let schedulerKeys { configuration.schedulerKeys = schedulerKeys }
        if let workers { configuration.workers = workers }
        configuration.stream = stream
        configuration.consumer = consumer
        configuration.claimIdle = claimIdle
        configuration.batchSize = batchSize
        configuration.flushInterval = .milliseconds(50)
        return Ingester(
            configuration: configuration, redis: redis,
            storage: PartitionedResultStorage(client: postgres, logger: TestServices.logger()),
            rejects: RejectedResultStore(client: postgres), logger: TestServices.logger(), notifications: notifications,
            maintenanceWindows: { [postgres] in try await MaintenanceCalendar.load(client: postgres) })
    }

    /// Adds results to the stream, 1000 per pipeline.
    func publish(_ results: [CheckResult]) async throws {
        var index = 0
        while index < results.count {
            let chunk = results[index..<min(results.count, index + 1000)]
            let replies = try await redis.pipeline(chunk.map { result in
                RedisClient.xaddCommand(stream, fields: result.streamFields.map { ($0.0, $0.1 as any RedisArgument) })
            })
            #expect(!replies.contains { if case .error = $0 { true } else { false } })
            index += chunk.count
        }
    }

    func storedRows() async throws -> Int {
        try await postgres.query("SELECT count(*) FROM results")[0].decode(Int.self, column: 0)
    }

    func streamLength() async throws -> Int {
        try await redis.send("XLEN", stream).int ?? -1
    }

    /// `count` results over all monitors, one per monitor per minute from `start` (default: a day
    /// ago, well inside retention, since the ingesters' maintenance runs meanwhile).
    func results(_ count: Int, start: Date = Date(timeIntervalSince1970: ((Date().timeIntervalSince1970 - 86_400) / 60).rounded(.down) * 60)) -> [CheckResult] {
        (0..<count).map { i in
            let monitor = monitors[i % monitors.count]
            let slot = start.addingTimeInterval(Double(i / monitors.count) * 60)
            return CheckResult(
                monitorID: monitor, scheduledAt: slot, status: i % 17 == 0 ? .down : .up, slotMilliseconds: 60_000,
                startedAt: slot, finishedAt: slot.addingTimeInterval(0.01), latencyMilliseconds: Double(i % 500) / 10,
                message: "ok \(i)", phases: #"{"connect":0.3}"#, details: #"{"i":\#(i)}"#, supervisor: "sv")
        }
    }

    /// Holds the Redis gate too (taken before PostgreSQL's, always in that order), so that no
    /// Redis restart test wipes the stream under an ingester test.
    static func with<T: Sendable>(exclusive: Bool = false, monitors: Int = 10, _ body: (Fixture) async throws -> T) async throws -> T {
        try await ServiceGate.redis.shared {
            try await withDatabase(exclusive: exclusive, monitors: monitors, body)
        }
    }

    private static func withDatabase<T: Sendable>(exclusive: Bool, monitors: Int, _ body: (Fixture) async throws -> T) async throws -> T {
        try await TemporaryDatabase.with(exclusive: exclusive) { configuration in
            var options = PostgresClient.Configuration()
            options.connectRetryTimeout = .seconds(1)
            let postgres = PostgresClient(configuration, configuration: options, logger: TestServices.logger())
            let redis = RedisClient(try RedisConfiguration(url: TestServices.requireRedisURL()), logger: TestServices.logger())
            let stream = "test:{pinguin}:results:\(UUID().uuidString)"
            do {
                try await MigrationRunner(client: postgres, logger: TestServices.logger()).up()
                let store = MonitorStore(client: postgres)
                var ids: [Int64] = []
                for i in 0..<monitors {
                    ids.append(try await store.create(MonitorDraft(name: "m\(i)", kind: "http", target: "http://127.0.0.1/")))
                }
                let result = try await body(Fixture(postgres: postgres, redis: redis, stream: stream, monitors: ids))
                try await redis.send("DEL", stream)
                await postgres.close()
                await redis.close()
                return result
            } catch {
                _ = try? await redis.send("DEL", stream)
                await postgres.close()
                await redis.close()
                throw error
            }
        }
    }
}

/// Polls `condition` every 50 ms until it holds; fails the test after `timeout`.
func eventually(_ what: String, timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    Issue.record("timed out waiting until \(what)")
}

/// Runs `ingesters` in the background while `body` runs, then stops them.
func running<T: Sendable>(_ ingesters: [Ingester], _ body: () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for ingester in ingesters {
            group.addTask { try await ingester.run() }
        }
        let result = try await body()
        group.cancelAll()
        return result
    }
}

@Suite("Ingester", .enabled(if: TestServices.postgresEnabled && TestServices.redisEnabled, Comment(rawValue: TestServices.skipReason)), .timeLimit(.minutes(3)))
struct IngesterIntegrationTests {
    @Test("results go from the stream into PostgreSQL, acknowledged and removed from the stream")
    func endToEnd() async throws {
        try await Fixture.with { fixture in
            let results = fixture.results(5_000)
            try await fixture.publish(results)
            let ingester = fixture.ingester(consumer: "one")
            try await running([ingester]) {
                try await eventually("all rows are stored") { try await fixture.storedRows() == 5_000 }
                try await eventually("the stream is empty") { try await fixture.streamLength() == 0 }
            }
            #expect(try await fixture.redis.xpending(fixture.stream, group: "ingesters").count == 0)
            #expect(ingester.statistics.inserted == 5_000)
            #expect(ingester.statistics.duplicates == 0)
            // What was stored is what was sent.
            let sample = try await fixture.postgres.query(
                "SELECT message, details->>'i', latency_ms, status FROM results WHERE monitor_id = $1 AND scheduled_at = $2",
                [results[1234].monitorID, results[1234].scheduledAt])
            #expect(try sample[0].decode(String.self, column: 0) == "ok 1234")
            #expect(try sample[0].decode(String.self, column: 1) == "1234")
            #expect(try sample[0].decode(Double.self, column: 2) == 23.4)
            #expect(try sample[0].decode(String.self, column: 3) == results[1234].status.rawValue)
        }
    }

    @Test("the failing set follows the status engine: in while failures are unconfirmed, out once down or up")
    func failingSet() async throws {
        try await Fixture.with(monitors: 2) { fixture in
            let keys = SchedulerKeys(prefix: "{test-failing-\(UUID().uuidString.prefix(8))}")
            defer { Task { _ = try? await fixture.redis.send("DEL", keys.failing) } }
            let (flaky, steady) = (fixture.monitors[0], fixture.monitors[1])
            let start = Date(timeIntervalSince1970: ((Date().timeIntervalSince1970 - 3_600) / 60).rounded(.down) * 60)
            func slot(_ monitor: Int64, _ minute: Int, _ status: CheckStatus) -> CheckResult {
                CheckResult(monitorID: monitor, scheduledAt: start.addingTimeInterval(Double(minute) * 60), status: status, slotMilliseconds: 60_000, message: status.rawValue)
            }
            func members() async throws -> Set<String> {
                Set(try await fixture.redis.send("SMEMBERS", keys.failing).array?.compactMap(\.string) ?? [])
            }
            // A stale member from before (the scheduler's reconciliation put it there) is removed.
            _ = try await fixture.redis.send("SADD", keys.failing, String(steady))
            // One worker: batches commit in slot order. (With two, a monitor's later batch can
            // commit first; the engine then ignores the older slot; see proto-docs/status.md.)
            let ingester = fixture.ingester(consumer: "failing", batchSize: 10, schedulerKeys: keys, workers: 1)
            try await running([ingester]) {
                try await fixture.publish([slot(flaky, 0, .up), slot(flaky, 1, .down), slot(steady, 0, .up)])
                try await eventually("flaky is failing, steady is not") { try await members() == [String(flaky)] }
                // Two more failures (threshold 3): confirmed down, checked at the normal interval again.
                try await fixture.publish([slot(flaky, 2, .down), slot(flaky, 3, .down)])
                try await eventually("flaky is down, out of the set") {
                    let stored = try await fixture.storedRows()
                    let failing = try await members()
                    return stored == 5 && failing.isEmpty
                }
                let status = try await fixture.postgres.query("SELECT status FROM monitor_state WHERE monitor_id = $1", [flaky])
                #expect(try status[0].decode(String.self, column: 0) == "down")
                let open = try await fixture.postgres.query("SELECT count(*) FROM incidents WHERE monitor_id = $1 AND ended_at IS NULL", [flaky])
                #expect(try open[0].decode(Int.self, column: 0) == 1)
            }
        }
    }

    @Test("redelivered results never make a second row")
    func redelivery() async throws {
        try await Fixture.with { fixture in
            let results = fixture.results(2_000)
            let ingester = fixture.ingester(consumer: "redo")
            try await running([ingester]) {
                try await fixture.publish(results)
                try await eventually("first delivery stored") { ingester.statistics.inserted == 2_000 }
                try await fixture.publish(results)  // as after a crash between commit and XACK
                try await eventually("redelivery processed") { ingester.statistics.duplicates == 2_000 }
            }
            #expect(try await fixture.storedRows() == 2_000)
            let rollup = try await fixture.postgres.query("SELECT sum(checks) FROM results_rollup_1m")
            #expect(try rollup[0].decode(Int.self, column: 0) == 2_000)
        }
    }

    @Test("entries held by a dead ingester are claimed and stored by another")
    func claimsFromDeadConsumer() async throws {
        try await Fixture.with { fixture in
            try await fixture.redis.xgroupCreate(fixture.stream, group: "ingesters", startID: "0")
            try await fixture.publish(fixture.results(300))
            // "dead" reads everything and dies before writing or acknowledging.
            let taken = try await fixture.redis.xreadgroup(fixture.stream, group: "ingesters", consumer: "dead", count: 1_000)
            #expect(taken.count == 300)
            let survivor = fixture.ingester(consumer: "survivor", claimIdle: .seconds(2))
            try await running([survivor]) {
                try await eventually("claimed entries are stored") { try await fixture.storedRows() == 300 }
                try await eventually("nothing is pending") {
                    try await fixture.redis.xpending(fixture.stream, group: "ingesters").count == 0
                }
            }
            // At least the dead consumer's 300. A batch that takes longer than claimIdle to store
            // is claimed again by its own ingester (stored once all the same): claimIdle must
            // exceed a batch's time, as the default 60 s does.
            #expect(survivor.statistics.claimed >= 300)
        }
    }

    @Test("two ingesters share one stream and store every result exactly once")
    func twoIngesters() async throws {
        try await Fixture.with(monitors: 50) { fixture in
            let a = fixture.ingester(consumer: "a", batchSize: 500)
            let b = fixture.ingester(consumer: "b", batchSize: 500)
            try await running([a, b]) {
                try await fixture.publish(fixture.results(20_000))
                try await eventually("everything is stored") { try await fixture.storedRows() == 20_000 }
                try await eventually("the stream is empty") { try await fixture.streamLength() == 0 }
            }
            #expect(a.statistics.inserted + b.statistics.inserted == 20_000)
            #expect(a.statistics.inserted > 0 && b.statistics.inserted > 0)
            let rollup = try await fixture.postgres.query("SELECT sum(checks), sum(down_checks) FROM results_rollup_1m")
            #expect(try rollup[0].decode(Int.self, column: 0) == 20_000)
            #expect(try rollup[0].decode(Int.self, column: 1) == (0..<20_000).filter { $0 % 17 == 0 }.count)
        }
    }

    @Test("malformed entries are kept in results_rejected with a reason naming the field")
    func rejects() async throws {
        try await Fixture.with { fixture in
            let good = fixture.results(1)[0]
            var bad = good.streamFields.filter { $0.0 != CheckResult.StreamField.status } + [(CheckResult.StreamField.status, "sideways")]
            bad = bad.map { $0.0 == CheckResult.StreamField.scheduled ? ($0.0, "1790000060000000") : $0 }
            let badJSON = good.streamFields.map { $0.0 == CheckResult.StreamField.details ? ($0.0, "{not json") : $0 }
            for fields in [good.streamFields, bad, badJSON] {
                try await fixture.redis.xadd(fixture.stream, fields: fields.map { ($0.0, $0.1 as any RedisArgument) })
            }
            let ingester = fixture.ingester(consumer: "strict")
            try await running([ingester]) {
                try await eventually("all three are handled") { ingester.statistics.inserted + ingester.statistics.rejected == 3 }
                try await eventually("the stream is empty") { try await fixture.streamLength() == 0 }
            }
            #expect(ingester.statistics.rejected == 2)
            let rejected = try await RejectedResultStore(client: fixture.postgres).recent()
            #expect(Set(rejected.map(\.reason)) == [
                "field \"status\": \"sideways\" is not one of up, down, degraded, unknown, paused, maintenance, skipped",
                "field \"details\": is not a JSON object",
            ])
            #expect(rejected.allSatisfy { $0.fields.contains("\"monitor\"") })
        }
    }

    @Test("while PostgreSQL is down results wait in Redis; when it returns the backlog drains")
    func postgresOutage() async throws {
        try await Fixture.with(exclusive: true) { fixture in
            let ingester = fixture.ingester(consumer: "patient")
            try await running([ingester]) {
                try await fixture.publish(fixture.results(500))
                try await eventually("the first results are stored") { try await fixture.storedRows() == 500 }
                try await TestServices.runServicesScript("stop", "postgres")
                do {
                    let later = fixture.results(1_000, start: Date().addingTimeInterval(-3_600))
                    try await fixture.publish(later)
                    try await eventually("a write has failed") { ingester.statistics.failedAttempts > 0 }
                    // Nothing was acknowledged while the database was away.
                    #expect(ingester.statistics.inserted == 500)
                    #expect(try await fixture.streamLength() == 1_000)
                } catch {
                    try await TestServices.runServicesScript("start")
                    throw error
                }
                try await TestServices.runServicesScript("start")
                try await eventually("the backlog is stored") { ingester.statistics.inserted == 1_500 }
                try await eventually("the stream is empty") { try await fixture.streamLength() == 0 }
            }
            #expect(try await fixture.storedRows() == 1_500)
        }
    }
}
