public import Foundation
import PinguinPostgres
public import PinguinStore
import PinguinWire

/// `maintenance.create/get/list/update/delete`: windows during which monitors' failures raise no
/// alerts. A window is one-off (`starts_at`…`ends_at`) or recurring (`cron` in `timezone`, lasting
/// `duration_ms`), and covers `monitor_ids` and every monitor carrying one of `tags`.
public enum MaintenanceMethods {
    /// The longest window: a year and a day.
    static let durationRange: ClosedRange<Int64> = 60_000...31_708_800_000

    /// `now` is when answers' `active_now` and `next_start` are computed (a parameter for tests).
    public static func register(
        into router: inout JSONRPCRouter, store: MaintenanceStore, actor: @escaping @Sendable () -> String,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        router.register("maintenance.create", scope: .write) { request in
            await MonitorMethods.run { () throws(JSONRPCError) -> JSONValue in
                var params = try NamedParams(request.params, method: request.method)
                var draft = MaintenanceDraft(name: try params.requiredString("name", maxLength: 200))
                draft.description = try params.string("description", maxLength: 10_000) ?? ""
                draft.namespace = try ChannelMethods.namespace(&params) ?? "default"
                draft.startsAt = try params.time("starts_at")
                draft.endsAt = try params.time("ends_at")
                draft.cron = try params.string("cron", maxLength: 200)
                draft.durationMilliseconds = try params.integer("duration_ms", in: durationRange)
                draft.timeZone = try params.string("timezone", maxLength: 64) ?? "UTC"
                draft.monitorIDs = try params.integers("monitor_ids", maxCount: 1_000) ?? []
                draft.tags = try params.strings("tags") ?? []
                draft.enabled = try params.bool("enabled") ?? true
                try params.rejectUnknown()
                let now = now()
                try validate(&draft, now: now)
                return try result(try await storeCall { try await store.create(draft, actor: actor()) }, id: nil, now: now)
            }
        }
        router.register("maintenance.get") { request in
            await MonitorMethods.run { () throws(JSONRPCError) -> JSONValue in
                var params = try NamedParams(request.params, method: request.method)
                let id = try params.requiredInteger("id", in: 1...Int64.max)
                try params.rejectUnknown()
                guard let record = try await storeCall({ try await store.get(id: id) }) else { throw notFound(id) }
                return json(record, now: now())
            }
        }
        router.register("maintenance.list") { request in
            await MonitorMethods.run { () throws(JSONRPCError) -> JSONValue in
                var params = try NamedParams(request.params, method: request.method)
                var filter = MaintenanceFilter()
                filter.namespace = try params.string("namespace", maxLength: 63)
                filter.active = try params.bool("active")
                filter.monitorID = try params.integer("monitor_id", in: 1...Int64.max)
                filter.limit = Int(try params.integer("limit", in: 1...1_000) ?? 100)
                filter.afterID = try params.integer("after", in: 0...Int64.max)
                try params.rejectUnknown()
                let now = now()
                let records = try await storeCall { try await store.list(filter, now: now) }
                return MonitorMethods.page("windows", records.map { json($0, now: now) }, lastID: records.last?.id, full: records.count == filter.limit)
            }
        }
        router.register("maintenance.update", scope: .write) { request in
            await MonitorMethods.run { () throws(JSONRPCError) -> JSONValue in
                var params = try NamedParams(request.params, method: request.method)
                let id = try params.requiredInteger("id", in: 1...Int64.max)
                let name = try params.string("name", maxLength: 200)
                let description = try params.string("description", maxLength: 10_000)
                let startsAt = try params.time("starts_at")
                let endsAt = try params.time("ends_at")
                let cron = try params.string("cron", maxLength: 200)
                let duration = try params.integer("duration_ms", in: durationRange)
                let timeZone = try params.string("timezone", maxLength: 64)
                let monitorIDs = try params.integers("monitor_ids", maxCount: 1_000)
                let tags = try params.strings("tags")
                let enabled = try params.bool("enabled")
                try params.rejectUnknown()
                let given: [(String, Bool)] = [
                    ("name", name != nil), ("description", description != nil), ("starts_at", startsAt != nil), ("ends_at", endsAt != nil),
                    ("cron", cron != nil), ("duration_ms", duration != nil), ("timezone", timeZone != nil),
                    ("monitor_ids", monitorIDs != nil), ("tags", tags != nil), ("enabled", enabled != nil),
                ]
                let fields = given.filter(\.1).map(\.0)
                guard !fields.isEmpty else { throw .invalidParams("nothing to change", field: "params") }
                if cron != nil, startsAt != nil || endsAt != nil {
                    throw .invalidParams("a window has cron and duration_ms, or starts_at and ends_at, not both", field: "cron")
                }
                let now = now()
                let outcome = try await storeCall {
                    try await store.update(id: id, changedFields: fields, actor: actor()) { current in
                        var draft = current.draft
                        if let name { draft.name = name }
                        if let description { draft.description = description }
                        if let timeZone { draft.timeZone = timeZone }
                        if let monitorIDs { draft.monitorIDs = monitorIDs }
                        if let tags { draft.tags = tags }
                        if let enabled { draft.enabled = enabled }
                        if let cron {
                            // Becomes (or stays) recurring.
                            (draft.cron, draft.startsAt, draft.endsAt) = (cron, nil, nil)
                        } else if startsAt != nil || endsAt != nil {
                            // Becomes (or stays) one-off; from recurring, both ends are needed.
                            if draft.cron != nil { (draft.startsAt, draft.endsAt) = (nil, nil) }
                            draft.cron = nil
                            if duration == nil { draft.durationMilliseconds = nil }
                            if let startsAt { draft.startsAt = startsAt }
                            if let endsAt { draft.endsAt = endsAt }
                        }
                        if let duration { draft.durationMilliseconds = duration }
                        try validate(&draft, now: now)
                        return draft
                    }
                }
                return try result(outcome, id: id, now: now)
            }
        }
        router.register("maintenance.delete", scope: .write) { request in
            await MonitorMethods.run { () throws(JSONRPCError) -> JSONValue in
                var params = try NamedParams(request.params, method: request.method)
                let id = try params.requiredInteger("id", in: 1...Int64.max)
                try params.rejectUnknown()
                guard try await storeCall({ try await store.delete(id: id, actor: actor()) }) else { throw notFound(id) }
                return .object(JSONObject(["deleted": .bool(true), "id": .int(id)]))
            }
        }
    }

    /// Checks a whole window (after an update's changes are applied): one kind of schedule, a
    /// parseable cron that ever matches, a known time zone, something to cover. A one-off window
    /// without `starts_at` starts `now`.
    static func validate(_ draft: inout MaintenanceDraft, now: Date) throws(JSONRPCError) {
        guard let zone = TimeZone(identifier: draft.timeZone) else {
            throw .invalidParams("timezone must be an IANA time zone name such as Europe/Berlin or UTC", field: "timezone")
        }
        if let cron = draft.cron {
            guard draft.startsAt == nil, draft.endsAt == nil else {
                throw .invalidParams("a window has cron and duration_ms, or starts_at and ends_at, not both", field: "cron")
            }
            let expression: CronExpression
            do throws(CronExpression.ParseError) {
                expression = try CronExpression(parsing: cron)
            } catch {
                throw .invalidParams("cron: \(error.message)", field: "cron")
            }
            guard expression.next(after: now, in: zone) != nil else {
                throw .invalidParams("cron matches no date (such as February 30)", field: "cron")
            }
            guard draft.durationMilliseconds != nil else { throw .invalidParams("duration_ms is required with cron", field: "duration_ms") }
        } else {
            guard draft.durationMilliseconds == nil else {
                throw .invalidParams("duration_ms is for recurring windows (with cron); a one-off window ends at ends_at", field: "duration_ms")
            }
            guard let endsAt = draft.endsAt else {
                throw .invalidParams("a window needs starts_at and ends_at, or cron and duration_ms", field: "ends_at")
            }
            let startsAt = draft.startsAt ?? now
            guard endsAt > startsAt else { throw .invalidParams("ends_at must be after starts_at", field: "ends_at") }
            draft.startsAt = startsAt
        }
        guard !draft.monitorIDs.isEmpty || !draft.tags.isEmpty else {
            throw .invalidParams("a window needs monitor_ids or tags (or both) to cover", field: "monitor_ids")
        }
    }

    /// The answer to a create or update.
    private static func result(_ outcome: MaintenanceWriteOutcome, id: Int64?, now: Date) throws(JSONRPCError) -> JSONValue {
        switch outcome {
        case .saved(let record): return json(record, now: now)
        case .notFound: throw notFound(id ?? 0)
        case .unknownMonitors(let ids): throw ChannelMethods.unknownMonitors(ids)
        }
    }

    /// The parameter each database constraint guards.
    static let constraintFields: [String: String] = [
        "maintenance_windows_name_length": "name", "maintenance_windows_schedule": "ends_at", "maintenance_windows_scope": "monitor_ids",
    ]

    static func notFound(_ id: Int64) -> JSONRPCError {
        JSONRPCError(code: MonitorMethods.notFoundCode, message: "no maintenance window \(id)", kind: "not_found",
                     details: JSONObject(["id": .int(id)]))
    }

    /// Runs a store call, turning database errors into JSON-RPC errors that name what is wrong.
    static func storeCall<T>(_ body: () async throws -> T) async throws(JSONRPCError) -> T {
        try await StoreErrors.translate(subject: "maintenance window", constraintFields: constraintFields, body)
    }

    static func json(_ record: MaintenanceRecord, now: Date) -> JSONValue {
        func time(_ date: Date?) -> JSONValue { date.map { .string(RFC3339.string($0)) } ?? .null }
        var object = JSONObject()
        object.append("id", .int(record.id))
        object.append("namespace", .string(record.namespace))
        object.append("name", .string(record.name))
        object.append("description", .string(record.description))
        object.append("starts_at", time(record.startsAt))
        object.append("ends_at", time(record.endsAt))
        object.append("cron", record.cron.map { .string($0) } ?? .null)
        object.append("duration_ms", record.durationMilliseconds.map { .int($0) } ?? .null)
        object.append("timezone", .string(record.timeZone))
        object.append("monitor_ids", .array(record.monitorIDs.map { .int($0) }))
        object.append("tags", .array(record.tags.map { .string($0) }))
        object.append("enabled", .bool(record.enabled))
        object.append("active_now", .bool(record.isActive(at: now)))
        object.append("next_start", time(record.nextStart(after: now)))
        object.append("created_at", .string(RFC3339.string(record.createdAt)))
        object.append("updated_at", .string(RFC3339.string(record.updatedAt)))
        return .object(object)
    }
}
