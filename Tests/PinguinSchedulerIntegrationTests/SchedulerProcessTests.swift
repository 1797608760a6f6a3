import Foundation
import PinguinPostgres
import PinguinRedis
import PinguinScheduler
import PinguinStore
import PinguinTestSupport
import Testing

/// Two `pinguind --roles scheduler` processes on the installation's own keys; the leader is
/// killed with SIGKILL in the middle of dispatching. Holds the Redis gate exclusively (the keys
/// are the real ones) and uses a database of its own.
@Suite("Scheduler processes", .enabled(if: TestServices.postgresEnabled && TestServices.redisEnabled, Comment(rawValue: TestServices.skipReason)),
       .timeLimit(.minutes(2)))
struct SchedulerProcessTests {
    struct Failure: Error, CustomStringConvertible { var description: String }

    @Test("kill -9 the leader: the standby takes over within the lease, and every slot is dispatched or recorded exactly once")
    func killLeader() async throws {
        try await ServiceGate.redis.exclusive {
            try await TemporaryDatabase.with { configuration in
                try await run(database: configuration)
            }
        }
    }

    private func run(database: PostgresConfiguration) async throws {
        let keys = SchedulerKeys.standard
        let redis = RedisClient(try RedisConfiguration(url: TestServices.requireRedisURL()), logger: TestServices.logger())
        let client = PostgresClient(database, logger: TestServices.logger())
        let all = [keys.due, keys.specs, keys.inFlight, keys.failing, keys.jobs, keys.results, keys.leader, keys.epoch, keys.statistics]
        _ = try await redis.send(RedisCommand("DEL", arguments: all))
        defer {
            Task {
                _ = try? await redis.send(RedisCommand("DEL", arguments: all))
                await redis.close()
                await client.close()
            }
        }
        try await MigrationRunner(client: client, logger: TestServices.logger()).up()
        var ids: [Int64] = []
        for index in 0..<8 {
            var draft = MonitorDraft(name: "k\(index)", kind: "http", target: "http://127.0.0.1:1/")
            draft.intervalMilliseconds = 1_000
            draft.timeoutMilliseconds = 500
            ids.append(try await MonitorStore(client: client).create(draft))
        }
        let pinguind = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("pinguind").path
        guard FileManager.default.isExecutableFile(atPath: pinguind) else { throw Failure(description: "\(pinguind) is missing") }
        // The temporary database as a key=value string (the description hides the password).
        let connection = ["host", "port", "user", "password", "dbname"].compactMap { key in
            database.option(key).map { "\(key)='\($0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'"))'" }
        }.joined(separator: " ")
        let arguments = ["run", "--roles", "scheduler", "--scheduler-lease", "2", "--database-url", connection, "--no-migrate"]
        let first = try ChildProcess.start(pinguind, arguments: arguments)
        let second = try ChildProcess.start(pinguind, arguments: arguments)
        defer {
            first.stopInBackground()
            second.stopInBackground()
        }
        // Wait for a leader, let it work, then kill it without warning.
        var leader: String?
        for _ in 0..<100 where leader == nil {
            try await Task.sleep(for: .milliseconds(100))
            leader = try await redis.send("GET", keys.leader).string
        }
        let name = try #require(leader, "nobody took the lease")
        try await Task.sleep(for: .seconds(2))
        let victim = [first, second].first { name.contains("-\($0.pid)-") }
        let survivor = [first, second].first { !name.contains("-\($0.pid)-") }
        let killed = try #require(victim, "the leader \(name) is neither child")
        kill(killed.pid, SIGKILL)
        let killedAt = Date()
        var successor: String?
        while Date().timeIntervalSince(killedAt) < 10 {
            try await Task.sleep(for: .milliseconds(100))
            if let current = try await redis.send("GET", keys.leader).string, current != name {
                successor = current
                break
            }
        }
        let takeover = Date().timeIntervalSince(killedAt)
        #expect(successor != nil, "the standby did not take over")
        #expect(takeover < 4, "failover took \(takeover) s with a 2 s lease")
        try await Task.sleep(for: .seconds(3))
        #expect(await survivor?.stop() == 0)

        // Every slot between each monitor's first and last: exactly one job or one row.
        var slots: [Int64: [Int64]] = [:]
        for stream in [keys.jobs, keys.results] {
            for fields in try await streamEntries(redis, stream) {
                if let monitor = Int64(fields["monitor"] ?? ""), let scheduled = Int64(fields["scheduled"] ?? "") {
                    slots[monitor, default: []].append(scheduled)
                }
            }
        }
        for id in ids {
            let times = (slots[id] ?? []).sorted()
            #expect(times.count >= 6, "monitor \(id): \(times.count) slots")
            #expect(Set(times).count == times.count, "monitor \(id): a slot twice")
            #expect(zip(times, times.dropFirst()).allSatisfy { $1 - $0 == 1_000_000 }, "monitor \(id): a gap")
        }
    }
}
