import Foundation
import PinguinPostgres
import PinguinRedis
import PinguinScheduler
import PinguinStore
import PinguinSupervisor
import PinguinTestSupport
import PinguinWire
import Testing

/// The example plugins of proto-docs (Python and shell) as real monitors: one pinguind with every
/// role, the examples as its plugin folders, monitors created over JSON-RPC with pinguinctl, and
/// results read back from PostgreSQL through result.list.
@Suite("Example plugins end to end", .enabled(if: TestServices.postgresEnabled && TestServices.redisEnabled, Comment(rawValue: TestServices.skipReason)),
       .timeLimit(.minutes(2)))
struct ExamplePluginsEndToEndTests {
    struct Failure: Error, CustomStringConvertible { var description: String }

    @Test("the Python and shell examples run as monitors through the whole pipeline")
    func examples() async throws {
        try await ServiceGate.redis.exclusive {
            try await TemporaryDatabase.with { configuration in
                try await run(database: configuration)
            }
        }
    }

    private func run(database: PostgresConfiguration) async throws {
        let redis = RedisClient(try RedisConfiguration(url: TestServices.requireRedisURL()), logger: TestServices.logger())
        let scheduler = SchedulerKeys.standard
        let supervisor = SupervisorKeys.standard
        let all = [scheduler.due, scheduler.specs, scheduler.inFlight, scheduler.failing, scheduler.jobs, scheduler.results,
                   scheduler.leader, scheduler.epoch, scheduler.statistics, scheduler.pushes, supervisor.supervisors, supervisor.jobs(in: "default")]
        _ = try await redis.send(RedisCommand("DEL", arguments: all))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pinguin-e2e-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer {
            try? FileManager.default.removeItem(atPath: folder)
            Task {
                _ = try? await redis.send(RedisCommand("DEL", arguments: all))
                await redis.close()
            }
        }
        let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let pinguind = binaries.appendingPathComponent("pinguind").path
        let ctl = binaries.appendingPathComponent("pinguinctl").path
        guard FileManager.default.isExecutableFile(atPath: ctl) else { throw Failure(description: "\(ctl) is missing: build all products first") }
        let examples = TestServices.repositoryRoot.appendingPathComponent("proto-docs/examples")
        let connection = ["host", "port", "user", "password", "dbname"].compactMap { key in
            database.option(key).map { "\(key)='\($0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'"))'" }
        }.joined(separator: " ")
        let socket = folder + "/pinguind.sock"
        let daemon = try ChildProcess.start(pinguind, arguments: [
            "run", "--database-url", connection, "--rpc-socket", socket, "--rpc-tcp", "off",
            "--plugin-dir", examples.appendingPathComponent("python").path, "--plugin-dir", examples.appendingPathComponent("shell").path,
        ])
        defer { daemon.stopInBackground() }
        for _ in 0..<600 where !FileManager.default.fileExists(atPath: socket) { try await Task.sleep(for: .milliseconds(50)) }
        func call(_ method: String, _ params: String) async throws -> (status: Int32, value: JSONValue?, output: String) {
            let run = try await ChildProcess.run(ctl, arguments: ["call", method, params], environment: ["PINGUIN_SOCKET": socket, "NO_COLOR": "1"])
            return (run.status, try? JSONParser.parse(run.output), run.output)
        }
        // Both plugins registered: kinds file and path are offered.
        var kinds: Set<String> = []
        for _ in 0..<200 where !kinds.isSuperset(of: ["file", "path"]) {
            try await Task.sleep(for: .milliseconds(100))
            let list = try await call("plugin.list", "{}")
            kinds = Set(list.value?.objectValue?["plugins"]?.arrayValue?.compactMap { $0.objectValue?["kind"]?.stringValue } ?? [])
        }
        #expect(kinds.isSuperset(of: ["file", "path", "nagios"]), "\(kinds)")
        // With a supervisor live, configs are validated against the plugin's own schema.
        let refused = try await call("monitor.create", #"{"name":"bad","kind":"file","target":"/etc/hostname","config":{"min_bytes":"many"}}"#)
        #expect(refused.status != 0 && refused.output.contains("config.min_bytes"), "\(refused.output)")

        func create(_ params: String) async throws -> Int64 {
            let created = try await call("monitor.create", params)
            guard let id = created.value?.objectValue?["id"]?.int64Value else { throw Failure(description: "monitor.create: \(created.output)") }
            return id
        }
        let present = try await create(#"{"name":"hostname","kind":"file","target":"/etc/hostname","interval_ms":2000,"timeout_ms":1900}"#)
        let missing = try await create(#"{"name":"missing","kind":"file","target":"/nonexistent/pinguin","interval_ms":2000,"timeout_ms":1900}"#)
        let directory = try await create(#"{"name":"root","kind":"path","target":"/","config":{"type":"directory"},"interval_ms":2000,"timeout_ms":1900}"#)
        let notDirectory = try await create(#"{"name":"hosts","kind":"path","target":"/etc/hosts","config":{"type":"directory"},"interval_ms":2000,"timeout_ms":1900}"#)

        func statuses(_ id: Int64) async throws -> [String] {
            let page = try await call("result.list", #"{"monitor_id":\#(id)}"#)
            return page.value?.objectValue?["results"]?.arrayValue?.compactMap { $0.objectValue?["status"]?.stringValue } ?? []
        }
        // Each monitor gets at least two results of its status and never the opposite one. On a
        // loaded machine a slot may honestly be unknown (plugin timeout) or skipped, never wrong.
        let expected: [(Int64, String, String)] = [(present, "up", "down"), (missing, "down", "up"), (directory, "up", "down"), (notDirectory, "down", "up")]
        var seen: [Int64: [String]] = [:]
        for _ in 0..<600 {
            for (id, _, _) in expected { seen[id] = try await statuses(id) }
            if expected.allSatisfy({ id, status, _ in (seen[id] ?? []).filter { $0 == status }.count >= 2 }) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        for (id, status, opposite) in expected {
            let statuses = seen[id] ?? []
            #expect(statuses.filter { $0 == status }.count >= 2 && !statuses.contains(opposite), "monitor \(id): \(seen)")
            #expect(statuses.allSatisfy { [status, "unknown", "skipped"].contains($0) }, "monitor \(id): \(seen)")
        }

        // monitor.run waits for a fresh result from the plugin.
        let ran = try await call("monitor.run", #"{"id":\#(present),"wait":true,"timeout_ms":5000}"#)
        #expect(ran.value?.objectValue?["result"]?.objectValue?["status"]?.stringValue == "up", "\(ran.output)")
    }
}
