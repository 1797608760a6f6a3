import Foundation
public import PinguinStore
import PinguinWire

/// `incident.list` and `incident.get`: the spells monitors spent down, as the status engine records them.
public enum IncidentMethods {
    public static func register(into router: inout JSONRPCRouter, store: IncidentStore) {
        router.register("incident.list") { request in
            await MonitorMethods.run { () throws(JSONRPCError) -> JSONValue in
                var params = try NamedParams(request.params, method: request.method)
                var filter = IncidentFilter()
                filter.monitorID = try params.integer("monitor_id", in: 1...Int64.max)
                filter.open = try params.bool("open")
                filter.since = try params.time("since")
                filter.until = try params.time("until")
                filter.limit = Int(try params.integer("limit", in: 1...1_000) ?? 100)
                filter.afterID = try params.integer("after", in: 1...Int64.max)
                try params.rejectUnknown()
                if let since = filter.since, let until = filter.until, until <= since {
                    throw .invalidParams("until must be after since", field: "until")
                }
                let records = try await MonitorMethods.storeCall {
                    do {
                        return try await store.list(filter)
                    } catch let error as StoreError where error.code == .notFound {
                        throw JSONRPCError.invalidParams("after names no incident (it was deleted with its monitor); list again from the start",
                                                         field: "after")
                    }
                }
                return MonitorMethods.page("incidents", records.map(json), lastID: records.last?.id, full: records.count == filter.limit)
            }
        }
        router.register("incident.get") { request in
            await MonitorMethods.run { () throws(JSONRPCError) -> JSONValue in
                var params = try NamedParams(request.params, method: request.method)
                let id = try params.requiredInteger("id", in: 1...Int64.max)
                try params.rejectUnknown()
                guard let record = try await MonitorMethods.storeCall({ try await store.get(id: id) }) else { throw notFound(id) }
                return json(record)
            }
        }
    }

    static func notFound(_ id: Int64) -> JSONRPCError {
        JSONRPCError(code: MonitorMethods.notFoundCode, message: "no incident \(id)", kind: "not_found", details: JSONObject(["id": .int(id)]))
    }

    static func json(_ record: IncidentRecord) -> JSONValue {
        var object = JSONObject()
        object.append("id", .int(record.id))
        object.append("monitor_id", .int(record.monitorID))
        object.append("monitor_name", .string(record.monitorName))
        object.append("started_at", .string(RFC3339.string(record.startedAt)))
        object.append("ended_at", record.endedAt.map { .string(RFC3339.string($0)) } ?? .null)
        object.append("duration_ms", record.durationMilliseconds.map { .int($0) } ?? .null)
        object.append("first_message", .string(record.firstMessage))
        object.append("last_message", .string(record.lastMessage))
        object.append("failed_checks", .int(record.failedChecks))
        object.append("caused_by", record.causedBy.map { .int($0) } ?? .null)
        return .object(object)
    }
}
