import Foundation
public import PinguinPostgres
public import PinguinStore
public import PinguinWire

/// `monitor.create/get/list/delete/pause/resume` over PostgreSQL. Every write is audited with the
/// caller. Config validation against the checker plugin's schema joins when plugins publish their
/// catalogue; until then `config` must be a JSON object and the database constraints apply.
public enum MonitorMethods {
    /// Application error codes (documented in proto-docs/openrpc.json).
    public static let notFoundCode = 1004
    public static let conflictCode = 1009

    public static func register(into router: inout JSONRPCRouter, store: MonitorStore, actor: @escaping @Sendable () -> String) {
        router.register("monitor.create", scope: .write) { request in
            await run { () throws(JSONRPCError) -> JSONValue in
                var params = try NamedParams(request.params, method: request.method)
                var draft = MonitorDraft(
                    name: try params.requiredString("name", maxLength: 200),
                    kind: try params.requiredString("kind", maxLength: 63),
                    target: try params.requiredString("target", maxLength: 2048))
                draft.namespace = try params.string("namespace", maxLength: 63) ?? "default"
                if let config = try params.object("config") { draft.configJSON = JSONWriter.string(.object(config)) }
                draft.intervalMilliseconds = Int32(try params.integer("interval_ms", in: 1_000...86_400_000) ?? 60_000)
                draft.timeoutMilliseconds = Int32(try params.integer("timeout_ms", in: 100...86_400_000) ?? Int64(min(10_000, draft.intervalMilliseconds)))
                draft.retryIntervalMilliseconds = Int32(try params.integer("retry_interval_ms", in: 1_000...86_400_000) ?? Int64(max(1_000, draft.intervalMilliseconds / 3)))
                draft.failureThreshold = Int32(try params.integer("failure_threshold", in: 1...100) ?? 3)
                draft.recoveryThreshold = Int32(try params.integer("recovery_threshold", in: 1...100) ?? 1)
                draft.tags = try params.strings("tags") ?? []
                try params.rejectUnknown()
                guard draft.timeoutMilliseconds <= draft.intervalMilliseconds else {
                    throw .invalidParams("timeout_ms must not exceed interval_ms", field: "timeout_ms")
                }
                return json(try await storeCall { try await store.create(draft, actor: actor()) })
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
                changes.description = try params.string("description", maxLength: 10_000)
                try params.rejectUnknown()
                guard !changes.changedFields.isEmpty else { throw .invalidParams("nothing to change", field: "params") }
                switch try await storeCall({ try await store.update(id: id, changes: changes, expectedVersion: expected, actor: actor()) }) {
                case .updated(let record):
                    return json(record)
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
                filter.limit = Int(try params.integer("limit", in: 1...1_000) ?? 100)
                filter.afterID = try params.integer("after", in: 0...Int64.max)
                try params.rejectUnknown()
                let records = try await storeCall { try await store.list(filter) }
                var page = JSONObject()
                page.append("monitors", .array(records.map(json)))
                page.append("next", records.count == filter.limit ? .int(records.last!.id) : .null)
                return .object(page)
            }
        }
        router.register("monitor.delete", scope: .write) { request in
            await run { () throws(JSONRPCError) -> JSONValue in
                var params = try NamedParams(request.params, method: request.method)
                let id = try params.requiredInteger("id", in: 1...Int64.max)
                try params.rejectUnknown()
                guard try await storeCall({ try await store.delete(id: id, actor: actor()) }) else { throw notFound(id) }
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

    static func notFound(_ id: Int64) -> JSONRPCError {
        JSONRPCError(code: notFoundCode, message: "no monitor \(id)", kind: "not_found", details: JSONObject(["id": .int(id)]))
    }

    /// Runs a store call, turning database errors into JSON-RPC errors that name what is wrong.
    static func storeCall<T>(_ body: () async throws -> T) async throws(JSONRPCError) -> T {
        do {
            return try await body()
        } catch let error as PostgresError where error.sqlState == "23505" {
            throw JSONRPCError(code: conflictCode, message: "a monitor with that name already exists in the namespace", kind: "conflict",
                               details: JSONObject(["field": .string("name")]))
        } catch let error as PostgresError where error.sqlState == "23514" || error.sqlState == "22P02" {
            let field = error.constraint.flatMap { constraintFields[$0] } ?? "params"
            throw .invalidParams("\(field) is not accepted (\(error.constraint ?? "invalid value"))", field: field)
        } catch let error as JSONRPCError {
            throw error
        } catch {
            throw .internalError("the database call failed")
        }
    }

    static func run(_ body: () async throws(JSONRPCError) -> JSONValue) async -> Result<JSONValue, JSONRPCError> {
        do {
            return .success(try await body())
        } catch {
            return .failure(error)
        }
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
        object.append("description", .string(record.description))
        object.append("version", .int(record.version))
        object.append("created_at", .string(RFC3339.string(record.createdAt)))
        object.append("updated_at", .string(RFC3339.string(record.updatedAt)))
        return .object(object)
    }
}
