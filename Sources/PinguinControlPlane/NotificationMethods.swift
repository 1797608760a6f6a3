import Foundation
public import PinguinStore
import PinguinWire

/// `notification.list`: the notification outbox, newest first — what was sent, what waits for
/// another attempt and why, what failed for good.
public enum NotificationMethods {
    static let states = ["pending", "sending", "delivered", "failed"]
    static let events = ["down", "up", "degraded", "flapping", "certificate_expiring", "reminder", "test", "supervisor_suspect"]

    public static func register(into router: inout JSONRPCRouter, store: OutboxStore) {
        router.register("notification.list") { request in
            await MonitorMethods.run { () throws(JSONRPCError) -> JSONValue in
                var params = try NamedParams(request.params, method: request.method)
                var filter = OutboxFilter()
                filter.channelID = try params.integer("channel_id", in: 1...Int64.max)
                filter.monitorID = try params.integer("monitor_id", in: 1...Int64.max)
                filter.state = try params.string("state", maxLength: 20)
                filter.event = try params.string("event", maxLength: 40)
                filter.limit = Int(try params.integer("limit", in: 1...1_000) ?? 100)
                filter.beforeID = try params.integer("before", in: 1...Int64.max)
                try params.rejectUnknown()
                if let state = filter.state, !states.contains(state) {
                    throw .invalidParams("state must be one of \(states.joined(separator: ", "))", field: "state")
                }
                if let event = filter.event, !events.contains(event) {
                    throw .invalidParams("event must be one of \(events.joined(separator: ", "))", field: "event")
                }
                let records = try await MonitorMethods.storeCall { try await store.list(filter) }
                var page = JSONObject()
                page.append("notifications", .array(records.map(json)))
                page.append("next", records.count == filter.limit ? records.last.map { .int($0.id) } ?? .null : .null)
                return .object(page)
            }
        }
    }

    static func json(_ record: OutboxRecord) -> JSONValue {
        var object = JSONObject()
        object.append("id", .int(record.id))
        object.append("channel_id", .int(record.channelID))
        object.append("monitor_id", record.monitorID.map { .int($0) } ?? .null)
        object.append("incident_id", record.incidentID.map { .int($0) } ?? .null)
        object.append("event", .string(record.event))
        object.append("state", .string(record.state))
        object.append("attempts", .int(record.attempts))
        object.append("next_attempt_at", .string(RFC3339.string(record.nextAttemptAt)))
        object.append("last_error", record.lastError.map { .string($0) } ?? .null)
        object.append("created_at", .string(RFC3339.string(record.createdAt)))
        object.append("delivered_at", record.deliveredAt.map { .string(RFC3339.string($0)) } ?? .null)
        object.append("payload", (try? JSONParser.parse(record.payloadJSON)) ?? .null)
        return .object(object)
    }
}
