import ArgumentParser
import Foundation
import Logging
import NIOCore
import PinguinModel
import PinguinPluginHost
import PinguinRedis
import PinguinSupervisor
import PinguinWire

/// Round trips through the supervisor with a trivial plugin (`pinguin-check-null`): first the
/// stdio protocol alone (a plugin pool of one process, checks issued as fast as it answers),
/// then the whole supervisor with Redis (jobs stream in, results stream out).
struct SupervisorBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "supervisor", abstract: "Checks/s through one plugin process, and through the supervisor with Redis.")

    @Option(help: "Checks through the plugin pool.")
    var checks = 300_000

    @Option(help: "Checks in flight at once.")
    var concurrency = 2_000

    @Option(help: "Jobs through the whole supervisor (Redis in and out).")
    var jobs = 100_000

    func run() async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let plugin = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("pinguin-check-null").path
        guard FileManager.default.isExecutableFile(atPath: plugin) else {
            throw ValidationError("\(plugin) is missing: swift build -c release --product pinguin-check-null")
        }
        try await stdio(plugin: plugin, logger: logger)
        try await throughRedis(plugin: plugin, logger: logger)
    }

    private func stdio(plugin: String, logger: Logger) async throws {
        var configuration = PluginPool.Configuration()
        configuration.maximumProcesses = 1
        let pool = PluginPool(
            path: plugin, options: SpawnedProcess.Options(path: plugin, environment: ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"]),
            initializeParameters: PluginHandshake.parameters(supervisorName: "bench", version: PinguinVersion.current, id: "bench", location: "default", maximumLineBytes: 1 << 20),
            configuration: configuration, logger: logger)
        let running = Task { await pool.run() }
        while pool.status.phase != .running { try await Task.sleep(for: .milliseconds(10)) }
        let pid = pool.status.pids.first ?? 0
        func parameters(_ index: Int) -> JSONValue {
            var params = JSONObject()
            params.append("check_id", .string("\(index % 10_000 + 1):1795000000000000"))
            params.append("monitor_id", .int(index % 10_000 + 1))
            params.append("kind", .string("null"))
            params.append("target", .string("bench"))
            params.append("config", .object(JSONObject()))
            params.append("deadline", .string(RFC3339.string(Date().addingTimeInterval(30))))
            params.append("timeout_ms", .int(30_000))
            params.append("scheduled_at", .string(RFC3339.string(Date())))
            return .object(params)
        }
        func drive(_ total: Int) async -> Int {
            let counter = Counter()
            return await withTaskGroup(of: Int.self) { group in
                for _ in 0..<concurrency {
                    group.addTask {
                        var ok = 0
                        while let index = counter.next(below: total) {
                            if case .answered(.result) = await pool.check(parameters(index), deadline: .now() + .seconds(30)) { ok += 1 }
                        }
                        return ok
                    }
                }
                return await group.reduce(0, +)
            }
        }
        _ = await drive(20_000)  // warm-up
        let pluginBefore = Self.cpuSeconds(of: pid)
        var answered = 0
        let measured = await measure { answered = await drive(checks) }
        let pluginCPU = Self.cpuSeconds(of: pid) - pluginBefore
        report("supervisor.stdio", Double(checks) / measured.elapsed.seconds, "checks/s",
               "one plugin process, \(concurrency) in flight, \(answered) of \(checks) answered")
        report("supervisor.stdio.cpu", measured.cpu / Double(checks) * 1e6, "µs", "supervisor CPU per check (protocol, routing, deadlines)")
        report("supervisor.stdio.plugin_cpu", pluginCPU / Double(checks) * 1e6, "µs", "plugin CPU per check (PinguinCheckerKit)")
        await pool.stop()
        running.cancel()
        await running.value
    }

    private func throughRedis(plugin: String, logger: Logger) async throws {
        let redisConfiguration = try RedisConfiguration(url: ProcessInfo.processInfo.environment["PINGUIN_REDIS_URL"] ?? "")
        let redis = RedisClient(redisConfiguration, logger: logger)
        let keys = SupervisorKeys(prefix: "{pinguin-bench-sv}")
        let all = [keys.jobs, keys.results, keys.supervisors, keys.jobs(in: "default")]
        _ = try await redis.send(RedisCommand("DEL", arguments: all))
        defer { Task { _ = try? await redis.send(RedisCommand("DEL", arguments: all)) } }
        // Jobs first, as a backlog the supervisor drains at full speed.
        let now = Date()
        var commands: [RedisCommand] = []
        for index in 0..<jobs {
            let monitor = Int64(index % 10_000 + 1)
            let job = CheckJob(id: "\(monitor):\(index)", monitorID: monitor, kind: "null", target: "bench", config: "{}",
                               timeoutMilliseconds: 30_000, scheduledAt: now, slotMilliseconds: 600_000)
            commands.append(RedisClient.xaddCommand(keys.jobs, fields: job.streamFields.map { ($0.0, $0.1 as any RedisArgument) }))
            if commands.count == 1_000 {
                _ = try await redis.pipeline(commands)
                commands = []
            }
        }
        if !commands.isEmpty { _ = try await redis.pipeline(commands) }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pinguin-bench-plugins").path
        try? FileManager.default.removeItem(atPath: folder)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: folder + "/pinguin-check-null", withDestinationPath: plugin)
        var configuration = Supervisor.Configuration()
        configuration.keys = keys
        configuration.pluginDirectories = [folder]
        configuration.pool.maximumProcesses = 1
        let supervisor = Supervisor(configuration: configuration, redis: redis, logger: logger)
        let redisCPUBefore = try await Self.redisCPU(redis)
        let running = Task { try await supervisor.run() }
        let measured = await measure {
            while supervisor.statistics.completed < jobs {
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        let redisCPU = try await Self.redisCPU(redis) - redisCPUBefore
        let pid = supervisor.pluginStatus.first?.status.pids.first ?? 0
        report("supervisor.redis", Double(jobs) / measured.elapsed.seconds, "checks/s",
               "\(jobs) jobs: XREADGROUP → plugin → XACK+XADD (includes plugin start)")
        report("supervisor.redis.cpu", measured.cpu / Double(jobs) * 1e6, "µs", "supervisor CPU per check")
        report("supervisor.redis.redis_cpu", redisCPU / Double(jobs) * 1e6, "µs", "Redis CPU per check")
        _ = pid
        running.cancel()
        _ = try? await running.value
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// utime + stime of a process, from /proc.
    static func cpuSeconds(of pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return 0 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    static func redisCPU(_ redis: RedisClient) async throws -> Double {
        let info = try await redis.send("INFO", "cpu").string ?? ""
        var total = 0.0
        for line in info.split(whereSeparator: \.isNewline) where line.hasPrefix("used_cpu_sys:") || line.hasPrefix("used_cpu_user:") {
            total += Double(line.split(separator: ":").last ?? "") ?? 0
        }
        return total
    }
}

/// Hands out indices below a limit to many tasks (supervisor and checker benchmarks).
final class Counter: @unchecked Sendable {
    // @unchecked: every access goes through the lock.
    private let lock = NSLock()
    private var value = 0

    func next(below limit: Int) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard value < limit else { return nil }
        value += 1
        return value - 1
    }
}
