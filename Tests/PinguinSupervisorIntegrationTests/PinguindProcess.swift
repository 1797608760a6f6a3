import Foundation
import PinguinPostgres
import PinguinRedis
import PinguinTestSupport
import PinguinWire

/// One real `pinguind run` with every role, for end-to-end tests: a PostgreSQL database of its
/// own, a Redis database of its own on the shared server (so that another engineer's or CI's run
/// on the same server, which uses the same standard keys, neither disturbs it nor is disturbed),
/// the control socket in a temporary folder, and ``call(_:_:)`` to drive it with `pinguinctl`.
///
/// The Redis gate is held shared: no test restarts the server meanwhile, and tests that use the
/// standard keys (database 0) may run beside it. Only pub/sub channels are server-wide: this
/// daemon's events and its scheduler's change notices reach them, and theirs reach it, which
/// they filter (by monitor or marker) and it reconciles against its own database. Whatever
/// happens, the daemon is stopped first, then the `{pinguin}` keys of its Redis database, the
/// PostgreSQL database and the folder are removed.
struct PinguindProcess: Sendable {
    struct Failure: Error, CustomStringConvertible { var description: String }

    static let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()

    /// The temporary folder: the socket, pinguind's log, and anything the test puts there.
    let folder: String
    let socket: String
    /// pinguind's standard output and error.
    let logPath: String
    private let ctl: String

    /// Starts pinguind with `pluginDirectories`, plus a folder of symbolic links to the built
    /// plugins named in `builtPlugins` (e.g. `pinguin-check-tcp`), and runs `body` once the
    /// control socket exists.
    static func with<T: Sendable>(
        pluginDirectories: [String] = [], builtPlugins: [String] = [], _ body: (PinguindProcess) async throws -> T
    ) async throws -> T {
        try await ServiceGate.redis.shared {
            try await TemporaryDatabase.with { database in
                try await run(database: database, pluginDirectories: pluginDirectories, builtPlugins: builtPlugins, body)
            }
        }
    }

    private static func run<T: Sendable>(
        database: PostgresConfiguration, pluginDirectories: [String], builtPlugins: [String], _ body: (PinguindProcess) async throws -> T
    ) async throws -> T {
        let pinguind = binaries.appendingPathComponent("pinguind").path
        let ctl = binaries.appendingPathComponent("pinguinctl").path
        for program in [pinguind, ctl] + builtPlugins.map({ binaries.appendingPathComponent($0).path }) {
            guard FileManager.default.isExecutableFile(atPath: program) else { throw Failure(description: "\(program) is missing: build all products first") }
        }
        let redisURL = try redisDatabaseURL(TestServices.requireRedisURL(), database: Int.random(in: 1...15))
        let redis = RedisClient(try RedisConfiguration(url: redisURL), logger: TestServices.logger())
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pinguin-e2e-\(UUID().uuidString.prefix(8))").path
        var daemon: ChildProcess.Running?
        func cleanUp() async {
            await daemon?.stop()
            try? await deleteKeys(redis)
            await redis.close()
            try? FileManager.default.removeItem(atPath: folder)
        }
        do {
            try await deleteKeys(redis)
            var directories = pluginDirectories
            if !builtPlugins.isEmpty {
                let plugins = folder + "/plugins"
                try FileManager.default.createDirectory(atPath: plugins, withIntermediateDirectories: true)
                for plugin in builtPlugins {
                    try FileManager.default.createSymbolicLink(atPath: plugins + "/" + plugin, withDestinationPath: binaries.appendingPathComponent(plugin).path)
                }
                directories.append(plugins)
            } else {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            }
            let process = PinguindProcess(folder: folder, socket: folder + "/pinguind.sock", logPath: folder + "/pinguind.log", ctl: ctl)
            let connection = ["host", "port", "user", "password", "dbname"].compactMap { key in
                database.option(key).map { "\(key)='\($0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'"))'" }
            }.joined(separator: " ")
            // Through sh only to send the log to a file: exec leaves pinguind with sh's pid, for SIGTERM.
            daemon = try ChildProcess.start("/bin/sh", arguments: [
                "-c", #"log="$1"; shift; exec "$@" >"$log" 2>&1"#, "sh", process.logPath,
                pinguind, "run", "--database-url", connection, "--redis-url", redisURL, "--rpc-socket", process.socket, "--rpc-tcp", "off",
            ] + directories.flatMap { ["--plugin-dir", $0] })
            for _ in 0..<600 where !FileManager.default.fileExists(atPath: process.socket) { try await Task.sleep(for: .milliseconds(50)) }
            guard FileManager.default.fileExists(atPath: process.socket) else { throw Failure(description: "no control socket after 30 s: \(process.log())") }
            let result = try await body(process)
            await cleanUp()
            return result
        } catch {
            await cleanUp()
            throw error
        }
    }

    /// The shared server's URL with another database number.
    private static func redisDatabaseURL(_ url: String, database: Int) throws -> String {
        guard var components = URLComponents(string: url) else { throw Failure(description: "PINGUIN_REDIS_URL is not a URL") }
        if components.scheme == "unix" {
            components.queryItems = (components.queryItems ?? []).filter { $0.name != "db" } + [URLQueryItem(name: "db", value: String(database))]
        } else {
            components.path = "/\(database)"
        }
        guard let changed = components.string else { throw Failure(description: "PINGUIN_REDIS_URL cannot be given another database") }
        return changed
    }

    /// Every `{pinguin}` key of the (test's own) Redis database.
    private static func deleteKeys(_ redis: RedisClient) async throws {
        var cursor = "0"
        repeat {
            let page = try await redis.send("SCAN", cursor, "MATCH", "{pinguin}*", "COUNT", "1000").throwingServerError().array ?? []
            cursor = page.first?.string ?? "0"
            let keys = page.dropFirst().first?.array?.compactMap(\.string) ?? []
            if !keys.isEmpty { _ = try await redis.send(RedisCommand("DEL", arguments: keys)) }
        } while cursor != "0"
    }

    /// `pinguinctl call METHOD PARAMS` on the socket: exit status, the answer parsed, the output.
    func call(_ method: String, _ params: String) async throws -> (status: Int32, value: JSONValue?, output: String) {
        let run = try await ChildProcess.run(ctl, arguments: ["call", method, params], environment: ["PINGUIN_SOCKET": socket, "NO_COLOR": "1"])
        return (run.status, try? JSONParser.parse(run.output), run.output)
    }

    /// The kinds `plugin.list` offers, once it offers all of `kinds` (or after 20 s).
    func waitForKinds(_ kinds: Set<String>) async throws -> Set<String> {
        var offered: Set<String> = []
        for _ in 0..<200 where !offered.isSuperset(of: kinds) {
            try await Task.sleep(for: .milliseconds(100))
            let list = try await call("plugin.list", "{}")
            offered = Set(list.value?.objectValue?["plugins"]?.arrayValue?.compactMap { $0.objectValue?["kind"]?.stringValue } ?? [])
        }
        return offered
    }

    /// `monitor.create` with these params; the new monitor's id.
    func createMonitor(_ params: String) async throws -> Int64 {
        let created = try await call("monitor.create", params)
        guard let id = created.value?.objectValue?["id"]?.int64Value else { throw Failure(description: "monitor.create: \(created.output)") }
        return id
    }

    /// `result.list` for a monitor: its stored results, newest first.
    func results(_ monitor: Int64, limit: Int = 100) async throws -> [JSONObject] {
        let page = try await call("result.list", #"{"monitor_id":\#(monitor),"limit":\#(limit)}"#)
        return page.value?.objectValue?["results"]?.arrayValue?.compactMap(\.objectValue) ?? []
    }

    /// The last `lines` lines of pinguind's log, for failure messages.
    func log(lines: Int = 40) -> String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }
}
