import Foundation
import Glibc
import Logging
import NIOCore
import PinguinPluginHost
import PinguinWire

/// The built pinguin-check-http, started once per test process the way the supervisor starts it,
/// and spoken to through the supervisor's own code (PluginConnection).
enum HTTPPlugin {
    struct Failure: Error, CustomStringConvertible { var description: String }

    static let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    static let path = binaries.appendingPathComponent("pinguin-check-http").path

    static let shared = Task { try await start() }

    static func start() async throws -> PluginConnection {
        guard FileManager.default.isExecutableFile(atPath: path) else { throw Failure(description: "\(path) is missing: build pinguin-check-http first") }
        let connection = try await PluginConnection.start(
            SpawnedProcess.Options(path: path, environment: ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PINGUIN_PLUGIN": "1", "PINGUIN_PLUGIN_PROTOCOL_VERSIONS": "1"]),
            name: "pinguin-check-http", logger: Logger(label: "test.http"))
        let parameters = PluginHandshake.parameters(supervisorName: "test", version: "0", id: "test", location: "here", maximumLineBytes: 1 << 20)
        guard case .result = await connection.call("initialize", params: parameters, deadline: .now() + .seconds(15)) else {
            throw Failure(description: "initialize was not answered")
        }
        connection.notify("initialized", params: nil)
        return connection
    }

    enum Answer {
        case result(PluginCheckResult)
        case error(JSONRPCError)
    }

    /// One check.run with `timeout` as the supervisor's timeout_ms.
    static func check(_ target: String, _ config: String = "{}", timeout: Int = 8000) async throws -> Answer {
        let connection = try await shared.value
        let deadline = Date().addingTimeInterval(Double(timeout) / 1000)
        let params = JSONValue.object(JSONObject([
            "check_id": .string("test"), "kind": .string("http"), "target": .string(target),
            "config": try JSONParser.parse(config), "deadline": .string(rfc3339(deadline)), "timeout_ms": .int(timeout),
        ]))
        switch await connection.call("check.run", params: params, deadline: .now() + .milliseconds(Int64(timeout) + 2000), cancelOnTimeout: true) {
        case .result(let value):
            switch PluginCheckResult.parse(value) {
            case .success(let result): return .result(result)
            case .failure(let error): throw Failure(description: "malformed result: \(error)")
            }
        case .error(let error): return .error(error)
        case .timedOut: throw Failure(description: "no answer in time")
        case .lost(let failure): throw Failure(description: "plugin lost: \(failure)")
        }
    }

    /// A check that must answer with a result (not a JSON-RPC error).
    static func result(_ target: String, _ config: String = "{}", timeout: Int = 8000) async throws -> PluginCheckResult {
        switch try await check(target, config, timeout: timeout) {
        case .result(let result): return result
        case .error(let error): throw Failure(description: "expected a result, got error \(error.code): \(error.message)")
        }
    }

    static func rfc3339(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970)
        let micros = Int((date.timeIntervalSince1970 - Double(seconds)) * 1_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec, micros)
    }
}
