public import Foundation
import Logging
import NIOCore
public import PinguinPluginHost
public import PinguinWire

/// A built checker plugin, started as the supervisor starts it and spoken to through
/// PinguinPluginHost: `initialize`, `initialized`, then `check.run` calls. Shared by the tests of
/// the tcp and ping plugins.
public struct CheckerPluginHarness: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    public static let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    public static let environment = ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PINGUIN_PLUGIN": "1", "PINGUIN_PLUGIN_PROTOCOL_VERSIONS": "1"]

    public let connection: PluginConnection
    public let kind: String
    public let initializeResult: JSONObject

    /// Starts `binaries/product`; with `wrapper`, runs `wrapper… plugin` instead (e.g. `ip netns exec NS`).
    public static func start(_ product: String, kind: String, wrapper: [String] = [], user: SpawnedProcess.User? = nil) async throws -> CheckerPluginHarness {
        let path = binaries.appendingPathComponent(product).path
        guard FileManager.default.isExecutableFile(atPath: path) else { throw Failure(description: "\(path) is missing: build \(product) first") }
        var options = wrapper.isEmpty
            ? SpawnedProcess.Options(path: path, environment: environment)
            : SpawnedProcess.Options(path: wrapper[0], arguments: Array(wrapper.dropFirst()) + [path], environment: environment)
        options.user = user
        let logger = Logger(label: "test.\(product)") { _ in InMemoryLogHandler() }
        let connection = try await PluginConnection.start(options, name: product, logger: logger)
        let parameters = PluginHandshake.parameters(supervisorName: "tests", version: "0", id: "test", location: "here", maximumLineBytes: 1 << 20)
        switch await connection.call("initialize", params: parameters, deadline: .now() + .seconds(15)) {
        case .result(let value):
            connection.notify("initialized", params: nil)
            return CheckerPluginHarness(connection: connection, kind: kind, initializeResult: value.objectValue ?? JSONObject())
        case let other:
            connection.kill(reason: "test over")
            throw Failure(description: "initialize failed: \(other)")
        }
    }

    public func parameters(target: String, config: String, timeout: Duration) throws -> JSONValue {
        let deadline = Date().addingTimeInterval(Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var params = JSONObject()
        params.append("check_id", .string("test:\(UUID().uuidString)"))
        params.append("kind", .string(kind))
        params.append("target", .string(target))
        params.append("config", try JSONParser.parse(config))
        params.append("deadline", .string(formatter.string(from: deadline)))
        params.append("timeout_ms", .int(Int64(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)))
        return .object(params)
    }

    /// Runs one check; a JSON-RPC error or no answer is a test failure.
    public func check(_ target: String, _ config: String = "{}", timeout: Duration = .seconds(10)) async throws -> PluginCheckResult {
        switch try await call(target, config, timeout: timeout) {
        case .result(let value):
            switch PluginCheckResult.parse(value) {
            case .success(let result): return result
            case .failure(let error): throw Failure(description: "invalid result \(JSONWriter.string(value)): \(error)")
            }
        case let other:
            throw Failure(description: "check.run \(target) \(config) answered \(other)")
        }
    }

    /// Runs one check that must answer with a JSON-RPC error.
    public func checkError(_ target: String, _ config: String = "{}", timeout: Duration = .seconds(10)) async throws -> JSONRPCError {
        switch try await call(target, config, timeout: timeout) {
        case .error(let error): return error
        case let other: throw Failure(description: "check.run \(target) \(config) answered \(other), not an error")
        }
    }

    private func call(_ target: String, _ config: String, timeout: Duration) async throws -> PluginConnection.Outcome {
        let params = try parameters(target: target, config: config, timeout: timeout)
        let milliseconds = timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000
        return await connection.call("check.run", params: params, deadline: .now() + .milliseconds(milliseconds + 2000), cancelOnTimeout: true)
    }

    public func close() async {
        _ = await connection.close(grace: .seconds(5))
    }
}

public extension PluginCheckResult {
    /// `details` member at a dotted path (`tls.certificate.subject`).
    func detail(_ path: String) -> JSONValue? {
        var value: JSONValue? = .object(details)
        for key in path.split(separator: ".") { value = value?.objectValue?[String(key)] }
        return value
    }

    func phase(_ name: String) -> Double? { phases[name]?.doubleValue }
}

extension CheckerPluginHarness {
    /// Runs the built `pinguinctl plugin test PLUGIN` with `cases` (`--case TARGET CONFIG STATUS`
    /// triples); a missing pinguinctl fails the test, never skips it.
    public static func pluginTest(_ plugin: String, cases: [String]) async throws -> (status: Int32, output: String) {
        let ctl = binaries.appendingPathComponent("pinguinctl").path
        guard FileManager.default.isExecutableFile(atPath: ctl) else { throw Failure(description: "\(ctl) is missing: build pinguinctl first") }
        return try await ChildProcess.run(ctl, arguments: ["plugin", "test", plugin] + cases, environment: ["NO_COLOR": "1"])
    }
}
