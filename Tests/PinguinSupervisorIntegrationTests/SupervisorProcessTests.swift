import Foundation
import PinguinModel
import PinguinPostgres
import PinguinRedis
import PinguinStore
import PinguinSupervisor
import PinguinTestSupport
import Testing

/// Two `pinguind --roles supervisor` processes and one `pinguind --roles ingester`, on the
/// installation's own keys (so the Redis gate is held exclusively) and a database of its own.
@Suite("Supervisor processes", .enabled(if: TestServices.postgresEnabled && TestServices.redisEnabled, Comment(rawValue: TestServices.skipReason)),
       .timeLimit(.minutes(2)))
struct SupervisorProcessTests {
    struct Failure: Error, CustomStringConvertible { var description: String }

    @Test("kill -9 a supervisor under load: the other claims its jobs and every job gets exactly one stored result")
    func killSupervisor() async throws {
        try await ServiceGate.redis.exclusive {
            try await TemporaryDatabase.with { configuration in
                try await run(database: configuration)
            }
        }
    }

    private func run(database: PostgresConfiguration) async throws {
        let keys = SupervisorKeys.standard
        let redis = RedisClient(try RedisConfiguration(url: TestServices.requireRedisURL()), logger: TestServices.logger())
        let client = PostgresClient(database, logger: TestServices.logger())
        let all = [keys.jobs, keys.results, keys.supervisors, keys.jobs(in: "default")]
        _ = try await redis.send(RedisCommand("DEL", arguments: all))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pinguin-kill-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer {
            try? FileManager.default.removeItem(atPath: folder)
            Task {
                _ = try? await redis.send(RedisCommand("DEL", arguments: all))
                await redis.close()
                await client.close()
            }
        }
        try await MigrationRunner(client: client, logger: TestServices.logger()).up()
        var monitors: [Int64] = []
        for index in 0..<20 {
            monitors.append(try await MonitorStore(client: client).create(MonitorDraft(name: "kill\(index)", kind: "null", target: "t\(index)")))
        }
        let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let pinguind = binaries.appendingPathComponent("pinguind").path
        let plugin = binaries.appendingPathComponent("pinguin-check-null").path
        guard FileManager.default.isExecutableFile(atPath: pinguind), FileManager.default.isExecutableFile(atPath: plugin) else {
            throw Failure(description: "build pinguind and pinguin-check-null first")
        }
        try FileManager.default.createSymbolicLink(atPath: folder + "/pinguin-check-null", withDestinationPath: plugin)
        let connection = ["host", "port", "user", "password", "dbname"].compactMap { key in
            database.option(key).map { "\(key)='\($0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'"))'" }
        }.joined(separator: " ")
        func supervisor(_ id: String) throws -> ChildProcess.Running {
            try ChildProcess.start(pinguind, arguments: [
                "run", "--roles", "supervisor", "--plugin-dir", folder, "--supervisor-id", id, "--supervisor-claim-idle", "2",
                "--supervisor-max-in-flight", "150",
            ])
        }
        let victim = try supervisor("sv-victim")
        let survivor = try supervisor("sv-survivor")
        let ingester = try ChildProcess.start(pinguind, arguments: ["run", "--roles", "ingester", "--database-url", connection, "--no-migrate"])
        defer {
            victim.stopInBackground()
            survivor.stopInBackground()
            ingester.stopInBackground()
        }
        // Both registered with the null plugin ready.
        var ready = false
        for _ in 0..<150 where !ready {
            try await Task.sleep(for: .milliseconds(100))
            let registrations = try await redis.send("HGETALL", keys.supervisors).array ?? []
            let values = registrations.enumerated().filter { $0.offset % 2 == 1 }.compactMap(\.element.string)
            ready = values.count == 2 && values.allSatisfy { $0.contains("\"name\":\"pinguin-check-null\",\"version\":\"1.0.0\",\"protocol\":\"1\",\"state\":\"running\"") }
        }
        #expect(ready, "the supervisors did not register")
        // 300 jobs of 1.5 s each: both supervisors hold many in flight when one dies.
        let base = Date().addingTimeInterval(-1)
        var jobs: [String] = []
        for index in 0..<300 {
            let monitor = monitors[index % monitors.count]
            let scheduled = base.addingTimeInterval(-Double(index / monitors.count))
            let job = CheckJob(id: "\(monitor):\(scheduled.unixMicroseconds)", monitorID: monitor, kind: "null", target: "t",
                               config: #"{"delay_ms":1500}"#, timeoutMilliseconds: 5_000, scheduledAt: scheduled, slotMilliseconds: 60_000)
            jobs.append(job.id)
            _ = try await redis.xadd(keys.jobs, fields: job.streamFields.map { ($0.0, $0.1 as any RedisArgument) })
        }
        // Kill the victim while it holds jobs.
        var victimHolds = 0
        for _ in 0..<50 where victimHolds == 0 {
            try await Task.sleep(for: .milliseconds(50))
            let summary = try await redis.xpending(keys.jobs, group: keys.group)
            victimHolds = summary.consumers["sv-victim"] ?? 0
        }
        #expect(victimHolds > 0)
        kill(victim.pid, SIGKILL)
        // Every job ends with exactly one stored row.
        var stored = 0
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            try await Task.sleep(for: .milliseconds(250))
            stored = Int(try await client.query("SELECT count(*) FROM results").first?.decode(Int64.self, column: 0) ?? 0)
            if stored >= jobs.count { break }
        }
        #expect(stored == jobs.count, "\(stored) of \(jobs.count) stored; victim held \(victimHolds)")
        let statuses = try await client.query("SELECT status::text FROM results GROUP BY 1").map { try $0.decode(String.self, column: 0) }
        #expect(statuses == ["up"])
        let pending = try await redis.xpending(keys.jobs, group: keys.group)
        #expect(pending.count == 0)
        #expect(try await redis.send("XLEN", keys.jobs).int == 0)
    }
}
