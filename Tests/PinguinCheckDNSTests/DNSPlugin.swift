import Foundation
import Logging
import NIOCore
import PinguinPluginHost
import PinguinWire

/// The built pinguin-check-dns, spoken to through the supervisor's own code (`PluginConnection`).
struct DNSPlugin {
    static let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    static let path = binaries.appendingPathComponent("pinguin-check-dns").path

    let connection: PluginConnection
    let initializeResult: JSONObject

    /// Starts the plugin; with `wrapper`, as `wrapper… plugin` (e.g. `ip netns exec NS`).
    static func start(wrapper: [String] = []) async throws -> DNSPlugin {
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw FixtureFailure(description: "\(path) is missing: build the pinguin-check-dns product first")
        }
        let environment = ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PINGUIN_PLUGIN": "1", "PINGUIN_PLUGIN_PROTOCOL_VERSIONS": "1"]
        let connection = try await PluginConnection.start(
            wrapper.isEmpty
                ? SpawnedProcess.Options(path: path, environment: environment)
                : SpawnedProcess.Options(path: wrapper[0], arguments: Array(wrapper.dropFirst()) + [path], environment: environment),
            name: "pinguin-check-dns",
            logger: Logger(label: "test.dns", factory: { _ in SwiftLogNoOpLogHandler() }))
        let params = try JSONParser.parse(#"{"protocol_versions":[1],"supervisor":{"name":"test","version":"0","id":"t","location":"default"},"limits":{"max_line_bytes":1048576}}"#)
        guard case .result(let answer) = await connection.call("initialize", params: params, deadline: .now() + .seconds(15)),
              let object = answer.objectValue
        else {
            connection.kill(reason: "test")
            throw FixtureFailure(description: "pinguin-check-dns did not answer initialize")
        }
        connection.notify("initialized", params: nil)
        return DNSPlugin(connection: connection, initializeResult: object)
    }

    /// One check.run; the plugin's answer, or its JSON-RPC error.
    func run(_ target: String, _ config: JSONObject, timeout: Duration = .seconds(5)) async throws -> Result<PluginCheckResult, JSONRPCError> {
        let milliseconds = Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let deadline = Date().addingTimeInterval(Double(milliseconds) / 1000)
        var params = JSONObject()
        params.append("check_id", .string("test"))
        params.append("kind", .string("dns"))
        params.append("target", .string(target))
        params.append("config", .object(config))
        params.append("deadline", .string(Self.rfc3339(deadline)))
        params.append("timeout_ms", .int(milliseconds))
        switch await connection.call("check.run", params: .object(params), deadline: .now() + .milliseconds(Int64(milliseconds) + 2000), cancelOnTimeout: true) {
        case .result(let value):
            switch PluginCheckResult.parse(value) {
            case .success(let result): return .success(result)
            case .failure(let error): throw FixtureFailure(description: "invalid result: \(error)")
            }
        case .error(let error):
            return .failure(error)
        case .timedOut:
            throw FixtureFailure(description: "no answer to check.run \(target)")
        case .lost(let failure):
            throw FixtureFailure(description: "the plugin ended: \(failure) \(failure.stderrTail)")
        }
    }

    /// A result that must be one (not a JSON-RPC error).
    func check(_ target: String, _ config: JSONObject, timeout: Duration = .seconds(5)) async throws -> PluginCheckResult {
        switch try await run(target, config, timeout: timeout) {
        case .success(let result): return result
        case .failure(let error): throw FixtureFailure(description: "check.run \(target) answered error \(error)")
        }
    }

    func stop() async {
        _ = await connection.close(grace: .seconds(2))
    }

    static func rfc3339(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'"
        return formatter.string(from: date)
    }
}

/// dnsmasq, the responder and the plugin for one test; all stopped afterwards, also on failure.
struct DNSTestBed {
    let dnsmasq: DNSMasq
    let responder: DNSResponder
    let plugin: DNSPlugin

    static func with<T>(_ body: (DNSTestBed) async throws -> T) async throws -> T {
        let dnsmasq = try await DNSMasq.start()
        let responder: DNSResponder
        do { responder = try await DNSResponder.start() } catch {
            await dnsmasq.stop()
            throw error
        }
        let plugin: DNSPlugin
        do { plugin = try await DNSPlugin.start() } catch {
            await dnsmasq.stop()
            await responder.stop()
            throw error
        }
        let bed = DNSTestBed(dnsmasq: dnsmasq, responder: responder, plugin: plugin)
        do {
            let value = try await body(bed)
            await bed.stop()
            return value
        } catch {
            await bed.stop()
            throw error
        }
    }

    func stop() async {
        await plugin.stop()
        await dnsmasq.stop()
        await responder.stop()
    }

    /// A config for dnsmasq: `{"resolver":"127.0.0.1","port":P}` plus `extra` (a JSON object's members).
    func local(_ extra: String = "") throws -> JSONObject {
        try config(port: dnsmasq.port, extra)
    }

    /// A config for the responder.
    func odd(_ extra: String = "") throws -> JSONObject {
        try config(port: responder.port, extra)
    }

    func config(port: UInt16, resolver: String = "127.0.0.1", _ extra: String) throws -> JSONObject {
        let text = #"{"resolver":"\#(resolver)","port":\#(port)"# + (extra.isEmpty ? "" : "," + extra) + "}"
        guard let object = try JSONParser.parse(text).objectValue else { throw FixtureFailure(description: "not an object: \(text)") }
        return object
    }
}

extension PluginCheckResult {
    /// `details.answers[*].value`.
    var answerValues: [String] {
        (details["answers"]?.arrayValue ?? []).compactMap { $0.objectValue?["value"]?.stringValue }
    }

    var answerTTLs: [Int64] {
        (details["answers"]?.arrayValue ?? []).compactMap { $0.objectValue?["ttl"]?.int64Value }
    }
}
