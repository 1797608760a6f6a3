import Foundation
import NIOCore
import NIOPosix
public import PinguinModel
public import PinguinPluginHost
public import PinguinWire

/// Kind `nagios`: runs a Monitoring Plugins executable once per check (proto-docs/plugin-protocol.md,
/// "Nagios-compatible one-shot mode") and reads its exit status and output with ``NagiosOutput``.
public struct NagiosRunner: Sendable {
    /// Folders whose executables monitors may run, resolved (no symlink or `..` leads out).
    public let directories: [String]
    public let user: SpawnedProcess.User?
    public let limits: SpawnedProcess.Limits

    public static let kind = "nagios"

    public init(directories: [String], user: SpawnedProcess.User? = nil, limits: SpawnedProcess.Limits = .init()) {
        self.directories = directories.compactMap { Self.resolve($0) }
        self.user = user
        self.limits = limits
    }

    /// The config schema published for kind `nagios`.
    public var configSchema: JSONValue {
        let command = JSONObject([
            "type": .string("array"), "minItems": .int(1), "maxItems": .int(64),
            "items": .object(JSONObject(["type": .string("string"), "maxLength": .int(4096)])),
            "prefixItems": .array([.object(JSONObject(["type": .string("string"), "pattern": .string("^/")]))]),
            "description": .string("argv: an absolute path to an executable in the supervisor's Nagios plugin folders, then its arguments; {target} in an argument is replaced by the monitor's target"),
        ])
        return .object(JSONObject([
            "type": .string("object"), "additionalProperties": .bool(false), "required": .array([.string("command")]),
            "properties": .object(JSONObject(["command": .object(command)])),
        ]))
    }

    public var registration: JSONObject {
        var kind = JSONObject()
        kind.append("kind", .string(Self.kind))
        kind.append("description", .string("runs a Monitoring Plugins (Nagios) check_* program once per check"))
        kind.append("config_schema", configSchema)
        var plugin = JSONObject()
        plugin.append("name", .string("nagios (built in)"))
        plugin.append("version", .string(PinguinVersion.current))
        plugin.append("protocol", .string("nagios"))
        plugin.append("state", .string(directories.isEmpty ? "failed" : "running"))
        plugin.append("max_concurrency", .int(1_000))
        plugin.append("folders", .array(directories.map { .string($0) }))
        plugin.append("kinds", .array(directories.isEmpty ? [] : [.object(kind)]))
        return plugin
    }

    public struct Outcome: Sendable {
        public var status: CheckStatus
        public var message: String
        public var details: JSONObject
        public var latencyMilliseconds: Double
    }

    /// Runs the check; a problem of the runner (not of the target) is `unknown`.
    public func run(config: JSONObject, target: String, timeout: Duration) async -> Outcome {
        let started = ContinuousClock.now
        func unknown(_ message: String, _ kind: String) -> Outcome {
            Outcome(status: .unknown, message: message, details: JSONObject(["checker_error": .string(kind)]),
                    latencyMilliseconds: Double((ContinuousClock.now - started).wholeMilliseconds))
        }
        guard let argv = config["command"]?.arrayValue?.compactMap(\.stringValue), let path = argv.first, argv.count == config["command"]?.arrayValue?.count else {
            return unknown("config.command must be an array of strings", "config")
        }
        guard let resolved = Self.resolve(path), directories.contains(where: { resolved.hasPrefix($0 + "/") }) else {
            return unknown("config.command[0]: \(path) is not an executable in the allowed folders (\(directories.joined(separator: ", ")))", "config")
        }
        var options = SpawnedProcess.Options(
            path: resolved, arguments: argv.dropFirst().map { $0.replacingOccurrences(of: "{target}", with: target) },
            environment: ["PATH": "/usr/bin:/bin", "LC_ALL": "C", "LANG": "C"])
        options.user = user
        options.limits = limits
        let process: SpawnedProcess
        let pipes: SpawnedProcess.Pipes
        do {
            let spawnOptions = options
            (process, pipes) = try await NIOThreadPool.singleton.runIfActive { try SpawnedProcess.spawn(spawnOptions) }
        } catch {
            return unknown("\(error)", "spawn")
        }
        close(pipes.input)
        let stdout: EventLoopFuture<(bytes: [UInt8], discarded: Int)>
        let stderr: EventLoopFuture<(bytes: [UInt8], discarded: Int)>
        var channels: [any Channel] = []
        do {
            let out = try await OutputCollector.collect(pipes.output, limit: NagiosOutput.maximumBytes)
            channels.append(out.channel)
            stdout = out.result
            let err = try await OutputCollector.collect(pipes.errors, limit: 2048)
            channels.append(err.channel)
            stderr = err.result
        } catch {
            process.killGroup()
            _ = await process.waitForExit()
            channels.forEach { $0.close(promise: nil) }
            return unknown("cannot read the output of \(path): \(error)", "spawn")
        }
        let name = (path as NSString).lastPathComponent
        guard let exit = await process.waitForExit(timeout: timeout) else {
            process.killGroup()
            _ = await process.waitForExit()
            channels.forEach { $0.close(promise: nil) }
            return unknown("plugin timeout: \(name) did not finish within \(timeout.wholeMilliseconds) ms", "timeout")
        }
        // What is left of the group goes with its leader; a descendant that left the group and
        // holds the pipes open gets half a second before the pipes are closed on it.
        process.killGroup()
        let openChannels = channels
        let closer = Task {
            try? await Task.sleep(for: .milliseconds(500))
            openChannels.forEach { $0.close(promise: nil) }
        }
        let output = try? await stdout.get()
        let errors = try? await stderr.get()
        closer.cancel()
        let elapsed = Double((ContinuousClock.now - started).wholeMilliseconds)
        let exitStatus: Int32
        switch exit {
        case .exited(let status): exitStatus = status
        case .signalled(let signal):
            return unknown("\(name) was killed by signal \(signal)", "crash")
        }
        let parsed = NagiosOutput(exitStatus: exitStatus, output: String(decoding: output?.bytes ?? [], as: UTF8.self))
        var details = JSONObject()
        details.append("exit_status", .int(exitStatus))
        if !parsed.longText.isEmpty { details.append("long_text", .string(parsed.longText)) }
        if !parsed.metrics.isEmpty {
            details.append("metrics", .array(parsed.metrics.map { metric in
                var object = JSONObject()
                object.append("label", .string(metric.label))
                object.append("value", metric.value.map { .double($0) } ?? .null)
                if !metric.unit.isEmpty { object.append("uom", .string(metric.unit)) }
                if let warn = metric.warn { object.append("warn", .string(warn)) }
                if let crit = metric.crit { object.append("crit", .string(crit)) }
                if let min = metric.min { object.append("min", .double(min)) }
                if let max = metric.max { object.append("max", .double(max)) }
                return .object(object)
            }))
        }
        if !parsed.unparsed.isEmpty { details.append("unparsed", .array(parsed.unparsed.map { .string($0) })) }
        if let output, output.discarded > 0 { details.append("output_discarded_bytes", .int(output.discarded)) }
        if let errors, !errors.bytes.isEmpty { details.append("stderr", .string(String(decoding: errors.bytes, as: UTF8.self))) }
        var message = parsed.message
        if message.isEmpty, let errors, !errors.bytes.isEmpty {
            message = String(decoding: errors.bytes.prefix(200), as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
        }
        if parsed.status == .unknown { details.append("checker_error", .string("plugin_unknown")) }
        return Outcome(status: parsed.status, message: message, details: details, latencyMilliseconds: elapsed)
    }

    static func resolve(_ path: String) -> String? {
        guard let real = realpath(path, nil) else { return nil }
        defer { free(real) }
        return String(cString: real)
    }
}
