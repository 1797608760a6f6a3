import Foundation
import Logging
public import PinguinModel
public import PinguinRedis
public import PinguinWire

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

    /// Publishes one `result` event per result. Returns how many control planes received them.
    @discardableResult
    public func publish(results: [CheckResult]) async throws -> Int {
        guard !results.isEmpty else { return 0 }
        let listeners = try await redis.send("PUBSUB", "NUMSUB", EventBus.channel)
        guard let counts = listeners.array, counts.count == 2, let count = counts[1].int, count > 0 else { return 0 }
        var commands: [RedisCommand] = []
        var start = 0
        while start < results.count {
            let chunk = results[start..<min(start + Self.maximumPerMessage, results.count)]
            let message = JSONWriter.bytes(.array(chunk.map(Self.event)))
            commands.append(RedisCommand("PUBLISH", arguments: [EventBus.channel, message]))
            start += Self.maximumPerMessage
        }
        let replies = try await redis.pipeline(commands)
        return replies.compactMap { $0.int }.max() ?? 0
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
        var event = JSONObject()
        event.append("type", .string("result"))
        event.append("monitor_id", .int(result.monitorID))
        event.append("at", .string(RFC3339.string(result.finishedAt ?? result.scheduledAt)))
        event.append("data", .object(data))
        return .object(event)
    }
}
