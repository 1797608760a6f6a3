import Foundation
import PinguinModel
public import PinguinStore
public import PinguinWire

/// `result.list`, `uptime.get` and `latency.get` over the result storage.
public enum ResultMethods {
    public static func register(into router: inout JSONRPCRouter, storage: any ResultStorage, incidents: IncidentStore) {
        router.register("result.list") { request in
            await MonitorMethods.run { () throws(JSONRPCError) -> JSONValue in
                var params = try NamedParams(request.params, method: request.method)
                let monitor = try params.requiredInteger("monitor_id", in: 1...Int64.max)
                let (from, to) = try range(&params, defaultSpan: 86_400)
                let limit = Int(try params.integer("limit", in: 1...10_000) ?? 100)
                var cursor: ResultCursor?
                if let before = try params.object("before") {
                    guard let at = before["scheduled_at"]?.stringValue.flatMap(RFC3339.parse), let location = before["location"]?.stringValue else {
                        throw .invalidParams("before must be the next value of the previous page", field: "before")
                    }
                    cursor = ResultCursor(scheduledAt: at, location: location)
                }
                try params.rejectUnknown()
                let page = try await MonitorMethods.storeCall { try await storage.results(monitorID: monitor, from: from, to: to, limit: limit, before: cursor) }
                var object = JSONObject()
                object.append("results", .array(page.results.map(json)))
                object.append("next", page.next.map { cursor in
                    .object(JSONObject(["scheduled_at": .string(RFC3339.string(cursor.scheduledAt)), "location": .string(cursor.location)]))
                } ?? .null)
                return .object(object)
            }
        }
        router.register("uptime.get") { request in
            await MonitorMethods.run { () throws(JSONRPCError) -> JSONValue in
                var params = try NamedParams(request.params, method: request.method)
                let ids = try params.integers("monitor_ids")
                let (from, to) = try range(&params, defaultSpan: 86_400)
                try params.rejectUnknown()
                let uptime = try await MonitorMethods.storeCall { try await storage.uptime(monitorIDs: ids, from: from, to: to) }
                let incidentSummaries = try await MonitorMethods.storeCall { try await incidents.summaries(monitorIDs: ids, from: from, to: to) }
                let order = ids ?? uptime.keys.sorted()
                var object = JSONObject()
                object.append("from", .string(RFC3339.string(from)))
                object.append("to", .string(RFC3339.string(to)))
                object.append("monitors", .array(order.map { id in
                    let entry = uptime[id] ?? Uptime(monitorID: id, upMilliseconds: 0, downMilliseconds: 0, excludedMilliseconds: 0, checks: 0)
                    return .object(JSONObject([
                        "monitor_id": .int(id), "uptime": entry.ratio.map(JSONValue.double) ?? .null,
                        "up_ms": .int(entry.upMilliseconds), "down_ms": .int(entry.downMilliseconds),
                        "excluded_ms": .int(entry.excludedMilliseconds), "checks": .int(entry.checks),
                        "incidents": .int(incidentSummaries[id]?.count ?? 0), "incident_ms": .int(incidentSummaries[id]?.milliseconds ?? 0),
                    ]))
                }))
                return .object(object)
            }
        }
        router.register("latency.get") { request in
            await MonitorMethods.run { () throws(JSONRPCError) -> JSONValue in
                var params = try NamedParams(request.params, method: request.method)
                let monitor = try params.requiredInteger("monitor_id", in: 1...Int64.max)
                let (from, to) = try range(&params, defaultSpan: 86_400)
                try params.rejectUnknown()
                let summary = try await MonitorMethods.storeCall { try await storage.latency(monitorID: monitor, from: from, to: to) }
                func number(_ value: Double?) -> JSONValue { value.map(JSONValue.double) ?? .null }
                return .object(JSONObject([
                    "count": .int(summary.count), "min_ms": number(summary.minimum), "max_ms": number(summary.maximum),
                    "mean_ms": number(summary.mean), "p50_ms": number(summary.p50), "p95_ms": number(summary.p95),
                    "p99_ms": number(summary.p99),
                ]))
            }
        }
    }

    /// `from`/`to`, or `window` (24h, 7d, 30d, 365d) ending now; default the last `defaultSpan` seconds.
    static func range(_ params: inout NamedParams, defaultSpan: TimeInterval) throws(JSONRPCError) -> (Date, Date) {
        let window = try params.string("window", maxLength: 8)
        let to = try params.time("to") ?? Date()
        var from = try params.time("from")
        if let window {
            guard from == nil else { throw .invalidParams("give either from or window, not both", field: "window") }
            let spans: [String: TimeInterval] = ["24h": 86_400, "7d": 7 * 86_400, "30d": 30 * 86_400, "365d": 365 * 86_400]
            guard let span = spans[window] else { throw .invalidParams("window must be 24h, 7d, 30d or 365d", field: "window") }
            from = to.addingTimeInterval(-span)
        }
        let start = from ?? to.addingTimeInterval(-defaultSpan)
        guard start < to else { throw .invalidParams("from must be before to", field: "from") }
        return (start, to)
    }

    static func json(_ result: CheckResult) -> JSONValue {
        func time(_ date: Date?) -> JSONValue { date.map { .string(RFC3339.string($0)) } ?? .null }
        return .object(JSONObject([
            "monitor_id": .int(result.monitorID), "scheduled_at": time(result.scheduledAt), "location": .string(result.location),
            "status": .string(result.status.rawValue), "slot_ms": .int(result.slotMilliseconds),
            "started_at": time(result.startedAt), "finished_at": time(result.finishedAt),
            "latency_ms": result.latencyMilliseconds.map(JSONValue.double) ?? .null, "message": .string(result.message),
            "phases": (try? JSONParser.parse(result.phases)) ?? .object(JSONObject()),
            "details": (try? JSONParser.parse(result.details)) ?? .object(JSONObject()),
            "supervisor": result.supervisor.map { .string($0) } ?? .null,
        ]))
    }
}
