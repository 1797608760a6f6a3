import Foundation
import Logging
import PinguinModel
import PinguinPluginHost
import PinguinRedis
import PinguinSupervisor
import PinguinTestSupport
import PinguinWire
import ServiceLifecycle
import Testing

/// Redis keys of its own (a hash tag per test), a folder of real plugin executables, and helpers
/// to queue jobs and read the results the supervisor writes.
struct SupervisorFixture {
    let redis: RedisClient
    let keys: SupervisorKeys
    let pluginFolder: String

    static let misbehaving = TestServices.repositoryRoot.appendingPathComponent("Tests/Fixtures/plugins/misbehaving.py").path
    static let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()

    static func with<T: Sendable>(modes: [String] = [], binaries: [String] = [], _ body: (SupervisorFixture) async throws -> T) async throws -> T {
        try await ServiceGate.redis.shared {
            let redis = RedisClient(try RedisConfiguration(url: TestServices.requireRedisURL()), logger: TestServices.logger())
            let tag = UUID().uuidString.prefix(8)
            let keys = SupervisorKeys(prefix: "{pinguin-sv-\(tag)}")
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pinguin-plugins-\(tag)").path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for mode in modes {
                try install(mode: mode, in: folder, token: String(tag))
            }
            for binary in binaries {
                try FileManager.default.createSymbolicLink(
                    atPath: folder + "/" + binary, withDestinationPath: Self.binaries.appendingPathComponent(binary).path)
            }
            let fixture = SupervisorFixture(redis: redis, keys: keys, pluginFolder: folder)
            do {
                let result = try await body(fixture)
                await fixture.cleanUp()
                return result
            } catch {
                await fixture.cleanUp()
                throw error
            }
        }
    }

    /// A two-line wrapper named pinguin-check-MODE that runs the misbehaving plugin in that mode.
    static func install(mode: String, in folder: String, token: String) throws {
        let path = folder + "/pinguin-check-" + mode
        // The wrapper passes on the signals it was started with ignored (Python ignores SIGPIPE itself).
        try "#!/bin/sh\nPINGUIN_TEST_SIGIGN=$(grep SigIgn /proc/$$/status | cut -f2) exec /usr/bin/python3 \(misbehaving) \(mode) \(token)\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
    }

    func cleanUp() async {
        let streams = [keys.jobs, keys.results, keys.supervisors] + ["a", "b", "default"].map { keys.jobs(in: $0) }
        _ = try? await redis.send(RedisCommand("DEL", arguments: streams))
        try? FileManager.default.removeItem(atPath: pluginFolder)
        await redis.close()
    }

    func configuration(location: String = "default", id: String = "sv-test-\(UUID().uuidString.prefix(6))") -> Supervisor.Configuration {
        var configuration = Supervisor.Configuration()
        configuration.id = id
        configuration.location = location
        configuration.keys = keys
        configuration.pluginDirectories = [pluginFolder]
        configuration.claimIdle = .seconds(3)
        configuration.heartbeatInterval = .milliseconds(300)
        configuration.shutdownGrace = .seconds(2)
        configuration.pool.initializeTimeout = .seconds(3)
        configuration.pool.restartDelay = .milliseconds(50)
        configuration.pool.maximumRestartDelay = .milliseconds(400)
        configuration.pool.crashWindow = .seconds(60)
        configuration.pool.failedRetry = .seconds(60)
        configuration.pool.pingInterval = .seconds(1)
        configuration.pool.pingTimeout = .milliseconds(500)
        configuration.pool.stopGrace = .seconds(1)
        return configuration
    }

    /// Runs supervisors in a service group for the body, then shuts them down gracefully.
    func running<T: Sendable>(_ supervisors: [Supervisor], _ body: () async throws -> T) async throws -> T {
        let group = ServiceGroup(configuration: .init(services: supervisors.map { .init(service: $0) }, logger: TestServices.logger()))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                let result = try await body()
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                return result
            } catch {
                await group.triggerGracefulShutdown()
                try? await tasks.waitForAll()
                throw error
            }
        }
    }

    func supervisor(_ configuration: Supervisor.Configuration) -> Supervisor {
        Supervisor(configuration: configuration, redis: redis, logger: TestServices.logger())
    }

    /// Queues a job; returns its id.
    @discardableResult
    func job(monitor: Int64, kind: String, config: String = "{}", target: String = "target", timeout: Int32 = 2_000,
             locations: [String] = [], stream: String? = nil, scheduled: Date = Date()) async throws -> String {
        let id = "\(monitor):\(scheduled.unixMicroseconds)"
        let job = CheckJob(id: id, monitorID: monitor, kind: kind, target: target, config: config, timeoutMilliseconds: timeout,
                           scheduledAt: scheduled, slotMilliseconds: 60_000, locations: locations)
        _ = try await redis.xadd(stream ?? keys.jobs, fields: job.streamFields.map { ($0.0, $0.1 as any RedisArgument) })
        return id
    }

    /// Every result in the results stream.
    func results() async throws -> [CheckResult] {
        let reply = try await redis.send("XRANGE", keys.results, "-", "+")
        return try (reply.array ?? []).map { item in
            let pair = item.array ?? []
            var fields: [String: [UInt8]] = [:]
            let flat = pair.count == 2 ? (pair[1].array ?? []) : []
            var index = 0
            while index + 1 < flat.count {
                if let name = flat[index].string, let value = flat[index + 1].bytes { fields[name] = value }
                index += 2
            }
            return try CheckResult(streamFields: fields)
        }
    }

    /// Waits until at least `count` results are in (or the time is up) and returns them all.
    func waitForResults(_ count: Int, within limit: Duration = .seconds(20)) async throws -> [CheckResult] {
        let deadline = ContinuousClock.now + limit
        while true {
            let all = try await results()
            if all.count >= count || ContinuousClock.now > deadline { return all }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// The registration a supervisor wrote.
    func registration(_ id: String) async throws -> JSONObject? {
        guard let text = try await redis.send("HGET", keys.supervisors, id).string else { return nil }
        return try JSONParser.parse(text).objectValue
    }

    func plugin(_ name: String, in registration: JSONObject?) -> JSONObject? {
        registration?["plugins"]?.arrayValue?.compactMap(\.objectValue).first { $0["name"]?.stringValue == name || $0["file"]?.stringValue?.hasSuffix("/" + name) == true }
    }

    /// Waits until `condition` holds, polling.
    func eventually(within limit: Duration = .seconds(15), _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }
}
