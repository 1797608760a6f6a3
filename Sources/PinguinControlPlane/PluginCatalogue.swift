public import Foundation
import PinguinModel
public import PinguinRedis
public import PinguinWire
import Synchronization

/// The checker kinds the running supervisors offer, with each kind's config schema, read from the
/// supervisors' registrations in Redis (`{pinguin}:supervisors`, proto-docs/redis.md). A
/// registration whose heartbeat is older than ``staleAfter`` counts as gone.
public final class PluginCatalogue: Sendable {
    /// The Redis hash holding one registration (a JSON object) per supervisor id.
    public static let defaultKey = "{pinguin}:supervisors"
    /// Kinds the control plane knows without a plugin: `push` (checked in by the job itself).
    public static let builtInKinds: [String: JSONValue] = [
        "push": .object(JSONObject([
            "type": .string("object"), "additionalProperties": .bool(false),
            "description": .string("Push monitors take no settings: a push since the previous slot means up (or the status it reported)."),
        ])),
    ]

    public struct Kind: Sendable {
        public var kind: String
        public var plugin: String
        public var version: String
        public var protocolVersion: String
        public var maximumConcurrency: Int?
        public var description: String
        public var configSchema: JSONValue
        public var targetSchema: JSONValue?
        public var supervisors: [String]
    }

    public struct Snapshot: Sendable {
        /// Registrations, fresh and stale, as published.
        public var supervisors: [JSONObject]
        /// Ids of supervisors whose heartbeat is recent.
        public var live: Set<String>
        /// Kinds offered by live supervisors (first registration wins for the schema).
        public var kinds: [String: Kind]
        /// Schemas that could not be compiled, by kind: reported, never used.
        public var invalidSchemas: [String: String]
        /// What an operator should look at, one line each: supervisors that stopped sending
        /// heartbeats, plugins marked failed (crash loops), schemas that do not compile.
        public var problems: [String] = []
        var compiled: [String: JSONSchema]
        var compiledTargets: [String: JSONSchema]
    }

    public static let staleAfter: Double = 30
    private let redis: RedisClient
    private let cacheFor: Duration
    private let cache = Mutex<(snapshot: Snapshot, at: ContinuousClock.Instant)?>(nil)

    /// The hash read; ``defaultKey`` unless a test isolates itself.
    public let key: String

    public init(redis: RedisClient, key: String = PluginCatalogue.defaultKey, cacheFor: Duration = .seconds(2)) {
        self.redis = redis
        self.key = key
        self.cacheFor = cacheFor
    }

    /// Forgets the cached snapshot (tests, or after a registration is known to have changed).
    public func invalidate() {
        cache.withLock { $0 = nil }
    }

    public func snapshot() async throws -> Snapshot {
        if let cached = cache.withLock({ $0 }), ContinuousClock.now - cached.at < cacheFor { return cached.snapshot }
        let reply = try await redis.send("HGETALL", key)
        let fields = reply.array ?? []
        var supervisors: [JSONObject] = []
        var index = 0
        while index + 1 < fields.count {
            if let bytes = fields[index + 1].bytes, let object = try? JSONParser.parse(bytes).objectValue {
                supervisors.append(object)
            }
            index += 2
        }
        let snapshot = Self.build(supervisors, now: Date())
        cache.withLock { $0 = (snapshot, .now) }
        return snapshot
    }

    /// The snapshot of `supervisors` (registrations as published) at `now`.
    public static func build(_ supervisors: [JSONObject], now: Date) -> Snapshot {
        var snapshot = Snapshot(supervisors: supervisors, live: [], kinds: [:], invalidSchemas: [:], compiled: [:], compiledTargets: [:])
        for supervisor in supervisors {
            guard let id = supervisor["id"]?.stringValue,
                  let heartbeat = supervisor["heartbeat_at"]?.stringValue.flatMap(RFC3339.parse)
            else { continue }
            let location = supervisor["location"]?.stringValue ?? "default"
            guard now.timeIntervalSince(heartbeat) < staleAfter else {
                snapshot.problems.append(
                    "supervisor \(id) (location \(location)) has sent no heartbeat for \(Int(now.timeIntervalSince(heartbeat))) s")
                continue
            }
            snapshot.live.insert(id)
            for plugin in (supervisor["plugins"]?.arrayValue ?? []).compactMap(\.objectValue) {
                guard (plugin["state"]?.stringValue ?? "running") != "failed" else {
                    var line = "supervisor \(id) (location \(location)): plugin \(plugin["name"]?.stringValue ?? "?") failed"
                    line += " after \(plugin["restarts"]?.int64Value ?? 0) restarts"
                    if let until = plugin["failed_until"]?.stringValue { line += "; next try at \(until)" }
                    if let error = plugin["last_error"]?.stringValue { line += "; last error: \(error)" }
                    snapshot.problems.append(line)
                    continue
                }
                for entry in (plugin["kinds"]?.arrayValue ?? []).compactMap(\.objectValue) {
                    guard let kind = entry["kind"]?.stringValue else { continue }
                    if snapshot.kinds[kind] != nil {
                        snapshot.kinds[kind]!.supervisors.append(id)
                        continue
                    }
                    let schema = entry["config_schema"] ?? .object(JSONObject())
                    snapshot.kinds[kind] = Kind(
                        kind: kind, plugin: plugin["name"]?.stringValue ?? "", version: plugin["version"]?.stringValue ?? "",
                        protocolVersion: plugin["protocol"]?.stringValue ?? "", maximumConcurrency: plugin["max_concurrency"]?.int64Value.map { Int($0) },
                        description: entry["description"]?.stringValue ?? "", configSchema: schema, targetSchema: entry["target_schema"],
                        supervisors: [id])
                    do {
                        snapshot.compiled[kind] = try JSONSchema(schema)
                        if let target = entry["target_schema"] { snapshot.compiledTargets[kind] = try JSONSchema(target) }
                    } catch {
                        snapshot.invalidSchemas[kind] = "\(error)"
                    }
                }
            }
        }
        for (kind, problem) in snapshot.invalidSchemas.sorted(by: { $0.key < $1.key }) {
            snapshot.problems.append("kind \(kind): its config schema is not usable: \(problem)")
        }
        for (kind, schema) in builtInKinds where snapshot.kinds[kind] == nil {
            snapshot.kinds[kind] = Kind(
                kind: kind, plugin: "pinguind", version: PinguinVersion.current, protocolVersion: "", maximumConcurrency: nil,
                description: "a dead-man's switch: jobs report in with monitor.push", configSchema: schema, targetSchema: nil, supervisors: [])
            snapshot.compiled[kind] = try? JSONSchema(schema)
        }
        return snapshot
    }
}

extension PluginCatalogue.Snapshot {
    /// Checks a monitor's kind, target and config. Returns the config with the schema's defaults
    /// filled in, and warnings; throws invalid params naming the field.
    func validate(kind: String, target: String, config: JSONObject) throws(JSONRPCError) -> (config: JSONObject, warnings: [String]) {
        guard let entry = kinds[kind] else {
            if live.isEmpty {
                return (config, ["no supervisor is running, so kind \(kind) and its config were not checked against a plugin's schema"])
            }
            throw JSONRPCError(
                code: JSONRPCError.invalidParamsCode,
                message: "no running checker plugin offers kind \(kind) (offered: \(kinds.keys.sorted().joined(separator: ", ")))",
                kind: "unknown_kind", details: JSONObject(["field": .string("kind")]))
        }
        if let problem = invalidSchemas[kind] {
            throw .internalError("the \(entry.plugin) plugin declared an invalid config schema for \(kind): \(problem)")
        }
        if let targetSchema = compiledTargets[kind], let violation = targetSchema.validate(.string(target), at: "target").first {
            throw .invalidParams(violation.message, field: violation.path)
        }
        guard let schema = compiled[kind] else { return (config, []) }
        let violations = schema.validate(.object(config), at: "config")
        if let first = violations.first {
            var details = JSONObject()
            details.append("field", .string(first.path))
            details.append("violations", .array(violations.map { violation in
                .object(JSONObject(["field": .string(violation.path), "message": .string(violation.message)]))
            }))
            let more = violations.count > 1 ? " (and \(violations.count - 1) more)" : ""
            throw JSONRPCError(code: JSONRPCError.invalidParamsCode, message: "Invalid params: " + first.message + more, kind: "invalid_params", details: details)
        }
        return (schema.applyingDefaults(to: .object(config)).objectValue ?? config, [])
    }
}
