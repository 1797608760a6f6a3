import Foundation
public import PinguinPostgres
public import PinguinStore
public import PinguinWire

/// `monitor.create/get/list/update/delete/pause/resume` over PostgreSQL. Every write is audited
/// with the caller. Kind, target and config are checked against the catalogue the running
/// supervisors publish (``PluginCatalogue``); with no supervisor running, they are accepted with a
/// warning in the answer.
public enum MonitorMethods {
    /// Application error codes (documented in proto-docs/openrpc.json).
    public static let notFoundCode = 1004
    public static let conflictCode = 1009

    public static func register(
        into router: inout JSONRPCRouter, store: MonitorStore, catalogue: PluginCatalogue? = nil,
        changed: @escaping @Sendable (Int64) async -> Void = { _ in }, actor: @escaping @Sendable () -> String
    ) {
        /// Validates against the catalogue; returns the config to store and warnings.
        @Sendable func checked(kind: String, target: String, config: JSONObject) async throws(JSONRPCError) -> (String, [String]) {
            guard let catalogue else { return (JSONWriter.string(.object(config)), []) }
            let snapshot: PluginCatalogue.Snapshot
            do {
                snapshot = try await catalogue.snapshot()
            } catch {
                throw .unavailable("Redis is unreachable, so the config cannot be checked against the plugin catalogue")
            }
            let (effective, warnings) = try snapshot.validate(kind: kind, target: target, config: config)
            return (JSONWriter.string(.object(effective)), warnings)
        }
        router.register("monitor.create", scope: .write) { request in
            await run { () throws(JSONRPCError) -> JSONValue in
                var params = try NamedParams(request.params, method: request.method)
                var draft = MonitorDraft(
                    name: try params.requiredString("name", maxLength: 200),
                    kind: try params.requiredString("kind", maxLength: 63),
                    target: try params.requiredString("target", maxLength: 2048))
                draft.namespace = try params.string("namespace", maxLength: 63) ?? "default"
                let config = try params.object("config") ?? JSONObject()
                draft.intervalMilliseconds = Int32(try params.integer("interval_ms", in: 1_000...86_400_000) ?? 60_000)
                draft.timeoutMilliseconds = Int32(try params.integer("timeout_ms", in: 100...86_400_000) ?? Int64(min(10_000, draft.intervalMilliseconds)))
                draft.retryIntervalMilliseconds = Int32(try params.integer("retry_interval_ms", in: 1_000...86_400_000) ?? Int64(max(1_000, draft.intervalMilliseconds / 3)))
                draft.failureThreshold = Int32(try params.integer("failure_threshold", in: 1...100) ?? 3)
                draft.recoveryThreshold = Int32(try params.integer("recovery_threshold", in: 1...100) ?? 1)
                draft.tags = try params.strings("tags") ?? []
                draft.locations = try params.strings("locations", maxCount: 20) ?? []
                draft.description = try params.string("description", maxLength: 10_000) ?? ""
                draft.upsideDown = try params.bool("upside_down") ?? false
                draft.enabled = try params.bool("enabled") ?? true
                draft.paused = try params.bool("paused") ?? false
                draft.dependsOn = try params.integers("depends_on", maxCount: MonitorStore.maximumDependencies) ?? []
                try params.rejectUnknown()
                guard draft.timeoutMilliseconds <= draft.intervalMilliseconds else {
                    throw .invalidParams("timeout_ms must not exceed interval_ms", field: "timeout_ms")
                }
                let (configJSON, warnings) = try await checked(kind: draft.kind, target: draft.target, config: config)
                draft.configJSON = configJSON
                let record = try await storeCall { try await store.create(draft, actor: actor()) }
                await changed(record.id)
                return json(record, warnings: warnings)
            }
        }
        router.register("monitor.update", scope: .write) { request in
            await run { () throws(JSONRPCError) -> JSONValue in
                var params = try NamedParams(request.params, method: request.method)
                let id = try params.requiredInteger("id", in: 1...Int64.max)
                let expected = try params.integer("version", in: 1...Int64(Int32.max)).map(Int32.init)
                var changes = MonitorChanges()
                changes.name = try params.string("name", maxLength: 200)
                changes.target = try params.string("target", maxLength: 2048)
                changes.configJSON = try params.object("config").map { JSONWriter.string(.object($0)) }
                changes.intervalMilliseconds = try params.integer("interval_ms", in: 1_000...86_400_000).map(Int32.init)
                changes.timeoutMilliseconds = try params.integer("timeout_ms", in: 100...86_400_000).map(Int32.init)
                changes.retryIntervalMilliseconds = try params.integer("retry_interval_ms", in: 1_000...86_400_000).map(Int32.init)
                changes.failureThreshold = try params.integer("failure_threshold", in: 1...100).map(Int32.init)
                changes.recoveryThreshold = try params.integer("recovery_threshold", in: 1...100).map(Int32.init)
                changes.tags = try params.strings("tags")
                changes.locations = try params.strings("locations", maxCount: 20)
                changes.description = try params.string("description", maxLength: 10_000)
                changes.upsideDown = try params.bool("upside_down")
                changes.enabled = try params.bool("enabled")
                changes.dependsOn = try params.integers("depends_on", maxCount: MonitorStore.maximumDependencies)
                try params.rejectUnknown()
                guard !changes.changedFields.isEmpty else { throw .invalidParams("nothing to change", field: "params") }
                var warnings: [String] = []
                if changes.configJSON != nil || changes.target != nil {
                    guard let current = try await storeCall({ try await store.get(id: id) }) else { throw notFound(id) }
                    let config = try changes.configJSON.map { text throws(JSONRPCError) in
                        guard let object = (try? JSONParser.parse(text))?.objectValue else { throw .invalidParams("config must be an object", field: "config") }
                        return object
                    } ?? ((try? JSONParser.parse(current.configJSON))?.objectValue ?? JSONObject())
                    let (configJSON, notes) = try await checked(kind: current.kind, target: changes.target ?? current.target, config: config)
                    if changes.configJSON != nil { changes.configJSON = configJSON }
                    warnings = notes
                }
                switch try await storeCall({ try await store.update(id: id, changes: changes, expectedVersion: expected, actor: actor()) }) {
                case .updated(let record):
                    await changed(record.id)
                    return json(record, warnings: warnings)
                case .notFound:
                    throw notFound(id)
                case .versionConflict(let current):
                    throw JSONRPCError(code: conflictCode, message: "monitor \(id) changed meanwhile: it is at version \(current)",
                                       kind: "version_conflict", details: JSONObject(["field": .string("version"), "current_version": .int(current)]))
                }
            }
        }
        router.register("monitor.get") { request in
            await run { () throws(JSONRPCError) -> JSONValue in
                var params = try NamedParams(request.params, method: request.method)
                let id = try params.requiredInteger("id", in: 1...Int64.max)
                try params.rejectUnknown()
                guard let record = try await storeCall({ try await store.get(id: id) }) else { throw notFound(id) }
                return json(record)
            }
        }
        router.register("monitor.list") { request in
            await run { () throws(JSONRPCError) -> JSONValue in
                var params = try NamedParams(request.params, method: request.method)
                var filter = MonitorFilter()
                filter.namespace = try params.string("namespace", maxLength: 63)
                filter.kind = try params.string("kind", maxLength: 63)
                filter.tags = try params.strings("tags") ?? []
                filter.text = try params.string("text", maxLength: 200)
                if let status = try params.string("status", maxLength: 20) {
                    let states = ["up", "down", "degraded", "pending", "unknown", "paused", "maintenance"]
                    guard states.contains(status) else {
                        throw .invalidParams("status must be one of \(states.joined(separator: ", ")), not \(status)", field: "status")
                    }
                    filter.status = status
                }
                filter.limit = Int(try params.integer("limit", in: 1...1_000) ?? 100)
                filter.afterID = try params.integer("after", in: 0...Int64.max)
                try params.rejectUnknown()
                let records = try await storeCall { try await store.list(filter) }
                return MonitorMethods.page("monitors", records.map(json), lastID: records.last?.id, full: records.count == filter.limit)
            }
        }
        router.register("monitor.delete", scope: .write) { request in
            await run { () throws(JSONRPCError) -> JSONValue in
                var params = try NamedParams(request.params, method: request.method)
                let id = try params.requiredInteger("id", in: 1...Int64.max)
                try params.rejectUnknown()
                guard try await storeCall({ try await store.delete(id: id, actor: actor()) }) else { throw notFound(id) }
                await changed(id)
                return .object(JSONObject(["deleted": .bool(true), "id": .int(id)]))
            }
        }
        for (name, paused) in [("monitor.pause", true), ("monitor.resume", false)] {
            router.register(name, scope: .write) { request in
                await run { () throws(JSONRPCError) -> JSONValue in
                    var params = try NamedParams(request.params, method: request.method)
                    let id = try params.requiredInteger("id", in: 1...Int64.max)
                    try params.rejectUnknown()
                    guard let record = try await storeCall({ try await store.setPaused(id: id, paused: paused, actor: actor()) }) else {
                        throw notFound(id)
                    }
                    await changed(id)
                    return json(record)
                }
            }
        }
    }

    /// The parameter each database constraint guards.
    static let constraintFields: [String: String] = [
        "monitors_namespace_format": "namespace", "monitors_name_length": "name", "monitors_kind_format": "kind",
        "monitors_target_length": "target", "monitors_config_object": "config", "monitors_interval_range": "interval_ms",
        "monitors_timeout_range": "timeout_ms", "monitors_retry_interval_range": "retry_interval_ms",
        "monitors_failure_threshold_range": "failure_threshold", "monitors_recovery_threshold_range": "recovery_threshold",
        "monitors_timeout_within_interval": "timeout_ms",
    ]

    /// One page of a keyset-paginated list: the items under `key`, and `next` (the last id, to
    /// pass as `after`) when the page is full, else null.
    static func page(_ key: String, _ items: [JSONValue], lastID: Int64?, full: Bool) -> JSONValue {
        var page = JSONObject()
        page.append(key, .array(items))
        page.append("next", full ? lastID.map { .int($0) } ?? .null : .null)
        return .object(page)
    }

    static func notFound(_ id: Int64) -> JSONRPCError {
        JSONRPCError(code: notFoundCode, message: "no monitor \(id)", kind: "not_found", details: JSONObject(["id": .int(id)]))
    }

    /// Runs a store call, turning database errors into JSON-RPC errors that name what is wrong.
    static func storeCall<T>(_ body: () async throws -> T) async throws(JSONRPCError) -> T {
        try await StoreErrors.translate(subject: "monitor", constraintFields: constraintFields) {
            do {
                return try await body()
            } catch let error as MonitorDependencyError {
                throw dependencyError(error)
            }
        }
    }

    /// A refused `depends_on`, in the words of ``ChannelMethods/unknownMonitors(_:)``.
    static func dependencyError(_ error: MonitorDependencyError) -> JSONRPCError {
        let ids = error.monitorIDs.map(String.init)
        switch error.code {
        case .unknownMonitors:
            return .invalidParams("depends_on names monitors that do not exist: \(ids.joined(separator: ", "))", field: "depends_on")
        case .dependsOnItself:
            return .invalidParams("depends_on names the monitor itself: a monitor cannot depend on itself", field: "depends_on")
        case .cycle:
            return .invalidParams("depends_on would make a cycle: \(ids.joined(separator: " → "))", field: "depends_on")
        default:  // .tooMany
            return .invalidParams("depends_on names more than \(MonitorStore.maximumDependencies) monitors", field: "depends_on")
        }
    }

    static func run(_ body: () async throws(JSONRPCError) -> JSONValue) async -> Result<JSONValue, JSONRPCError> {
        do {
            return .success(try await body())
        } catch {
            return .failure(error)
        }
    }

    static func json(_ record: MonitorRecord, warnings: [String]) -> JSONValue {
        guard !warnings.isEmpty, case .object(var object) = json(record) else { return json(record) }
        object.append("warnings", .array(warnings.map { .string($0) }))
        return .object(object)
    }

    static func json(_ record: MonitorRecord) -> JSONValue {
        var object = JSONObject()
        object.append("id", .int(record.id))
        object.append("namespace", .string(record.namespace))
        object.append("name", .string(record.name))
        object.append("kind", .string(record.kind))
        object.append("target", .string(record.target))
        object.append("config", (try? JSONParser.parse(record.configJSON)) ?? .object(JSONObject()))
        object.append("interval_ms", .int(record.intervalMilliseconds))
        object.append("timeout_ms", .int(record.timeoutMilliseconds))
        object.append("retry_interval_ms", .int(record.retryIntervalMilliseconds))
        object.append("failure_threshold", .int(record.failureThreshold))
        object.append("recovery_threshold", .int(record.recoveryThreshold))
        object.append("upside_down", .bool(record.upsideDown))
        object.append("enabled", .bool(record.enabled))
        object.append("paused", .bool(record.paused))
        object.append("tags", .array(record.tags.map { .string($0) }))
        object.append("locations", .array(record.locations.map { .string($0) }))
        object.append("depends_on", .array(record.dependsOn.map { .int($0) }))
        object.append("description", .string(record.description))
        object.append("version", .int(record.version))
        object.append("created_at", .string(RFC3339.string(record.createdAt)))
        object.append("updated_at", .string(RFC3339.string(record.updatedAt)))
        var status = JSONObject()
        status.append("state", .string(record.paused ? "paused" : record.state?.status ?? "pending"))
        status.append("since", record.state.map { .string(RFC3339.string($0.since)) } ?? .null)
        status.append("last_status", record.state?.lastStatus.map { .string($0) } ?? .null)
        status.append("last_latency_ms", record.state?.lastLatencyMilliseconds.map { .double($0) } ?? .null)
        status.append("last_message", record.state?.lastMessage.map { .string($0) } ?? .null)
        status.append("last_checked_at", record.state?.lastScheduledAt.map { .string(RFC3339.string($0)) } ?? .null)
        object.append("status", .object(status))
        return .object(object)
    }
}
