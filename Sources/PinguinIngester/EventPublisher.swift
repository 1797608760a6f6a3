import Foundation
import Logging
public import PinguinModel
public import PinguinRedis
public import PinguinWire
public import PinguinStore

/// Publishes events to ``EventBus/channel`` for control planes to pass on to their subscribers
/// (proto-docs/events.md). One message carries a JSON array of up to ``maximumPerMessage``
/// events. When no control plane listens (`PUBSUB NUMSUB` is 0) nothing is encoded, so a busy
/// ingester pays for events only while somebody watches.
public struct EventPublisher: Sendable {
    public static let maximumPerMessage = 500

    private let redis: RedisClient

    public init(redis: RedisClient) {
        self.redis = redis
    }

    /// Publishes one `result` event per result, then one `status` event per status change, then
    /// one `incident` event per incident opened or closed.
    /// Returns how many control planes received them.
    @discardableResult
    public func publish(results: [CheckResult], statusChanges: [StatusChange] = [], incidents: [IncidentUpdate] = []) async throws -> Int {
        guard !results.isEmpty || !statusChanges.isEmpty || !incidents.isEmpty else { return 0 }
        let listeners = try await redis.send("PUBSUB", "NUMSUB", EventBus.channel)
        guard let counts = listeners.array, counts.count == 2, let count = counts[1].int, count > 0 else { return 0 }
        let events = results.map(Self.event) + statusChanges.map(Self.event) + incidents.map(Self.event)
        var commands: [RedisCommand] = []
        var start = 0
        while start < events.count {
            let chunk = events[start..<min(start + Self.maximumPerMessage, events.count)]
            let message = JSONWriter.bytes(.array(Array(chunk)))
            commands.append(RedisCommand("PUBLISH", arguments: [EventBus.channel, message]))
            start += Self.maximumPerMessage
        }
        let replies = try await redis.pipeline(commands)
        return replies.compactMap { $0.int }.max() ?? 0
    }

    /// `{"type":"status","monitor_id":7,"at":"…","data":{"status":"down","previous_status":"pending","notices":[…]}}`;
    /// `at` is the scheduled time of the result that changed it.
    public static func event(_ change: StatusChange) -> JSONValue {
        var data = JSONObject()
        data.append("status", .string(change.to.rawValue))
        data.append("previous_status", .string(change.from.rawValue))
        data.append("notices", .array(change.notices.map(Self.notice)))
        return envelope("status", monitorID: change.monitorID, at: change.at, data: data)
    }

    /// `{"type":"incident","monitor_id":7,"at":"…","data":{"incident_id":3,"action":"opened",…}}`; `at` is
    /// when it started (opened) or ended (closed).
    public static func event(_ incident: IncidentUpdate) -> JSONValue {
        var data = JSONObject()
        data.append("incident_id", .int(incident.id))
        data.append("action", .string(incident.action.rawValue))
        data.append("started_at", .string(RFC3339.string(incident.startedAt)))
        data.append("ended_at", incident.endedAt.map { .string(RFC3339.string($0)) } ?? .null)
        data.append("first_message", .string(incident.firstMessage))
        data.append("last_message", .string(incident.lastMessage))
        data.append("failed_checks", .int(Int64(incident.failedChecks)))
        return envelope("incident", monitorID: incident.monitorID, at: incident.endedAt ?? incident.startedAt, data: data)
    }

    /// What the status engine would announce: `{"event":"down","since":"…","message":"…"}`,
    /// `{"event":"up","outage_seconds":…}`, `{"event":"degraded","message":…}`,
    /// `{"event":"flapping_started"|"flapping_stopped","percent":…,"status":…}`.
    static func notice(_ notice: StatusNotice) -> JSONValue {
        var object = JSONObject()
        switch notice {
        case .down(let since, let message):
            object.append("event", .string("down"))
            object.append("since", .string(RFC3339.string(since)))
            object.append("message", .string(message))
        case .up(let outage):
            object.append("event", .string("up"))
            object.append("outage_seconds", outage.map(JSONValue.double) ?? .null)
        case .degraded(let message):
            object.append("event", .string("degraded"))
            object.append("message", .string(message))
        case .flappingStarted(let percent, let status), .flappingStopped(let percent, let status):
            if case .flappingStarted = notice { object.append("event", .string("flapping_started")) } else { object.append("event", .string("flapping_stopped")) }
            object.append("percent", .double(percent))
            object.append("status", .string(status.rawValue))
        }
        return .object(object)
    }

    /// `{"type":"result","monitor_id":7,"at":"…","data":{…}}`.
    public static func event(_ result: CheckResult) -> JSONValue {
        var data = JSONObject()
        data.append("status", .string(result.status.rawValue))
        data.append("scheduled_at", .string(RFC3339.string(result.scheduledAt)))
        data.append("location", .string(result.location))
        data.append("latency_ms", result.latencyMilliseconds.map(JSONValue.double) ?? .null)
        data.append("message", .string(result.message))
        data.append("phases", (try? JSONParser.parse(result.phases)) ?? .object(JSONObject()))
        data.append("details", (try? JSONParser.parse(result.details)) ?? .object(JSONObject()))
        data.append("supervisor", result.supervisor.map(JSONValue.string) ?? .null)
        data.append("job", result.job.map(JSONValue.string) ?? .null)
        data.append("manual", .bool(result.manual))
        return envelope("result", monitorID: result.monitorID, at: result.finishedAt ?? result.scheduledAt, data: data)
    }

    /// `{"type":…,"monitor_id":…,"at":…,"data":{…}}`, the form every event has.
    private static func envelope(_ type: String, monitorID: Int64, at: Date, data: JSONObject) -> JSONValue {
        var event = JSONObject()
        event.append("type", .string(type))
        event.append("monitor_id", .int(monitorID))
        event.append("at", .string(RFC3339.string(at)))
        event.append("data", .object(data))
        return .object(event)
    }
}
