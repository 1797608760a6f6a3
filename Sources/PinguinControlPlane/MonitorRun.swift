import Foundation
import PinguinClientKit
import PinguinModel
public import PinguinRedis
public import PinguinStore
public import PinguinWire

/// `monitor.run`: queues a check of one monitor now, on the jobs stream the supervisors read, and
/// optionally waits for its result (which arrives as an event from the ingester).
///
/// The run is marked manual: it stands for no slot, so its result is returned and published but
/// not stored and not counted in uptime, and it does not move the monitor's schedule.
public enum MonitorRunMethod {
    /// 1008: the result did not arrive in time (the job stays queued).
    public static let timeoutCode = 1008
    /// Longest wait a caller may ask for.
    public static let maximumWait: Int64 = 300_000

    public static func register(into router: inout JSONRPCRouter, store: MonitorStore, redis: RedisClient, hub: EventHub, actor: @escaping @Sendable () -> String) {
        router.register("monitor.run", scope: .write) { request in
            await MonitorMethods.run { () throws(JSONRPCError) -> JSONValue in
                var params = try NamedParams(request.params, method: request.method)
                let id = try params.requiredInteger("id", in: 1...Int64.max)
                let wait = try params.bool("wait") ?? false
                let waitMilliseconds = try params.integer("timeout_ms", in: 100...maximumWait)
                try params.rejectUnknown()
                guard let monitor = try await MonitorMethods.storeCall({ try await store.get(id: id) }) else { throw MonitorMethods.notFound(id) }
                guard monitor.kind != "push" else {
                    throw JSONRPCError(code: JSONRPCError.invalidParamsCode, message: "monitor \(id) is a push monitor: it is not checked, it is pushed to (monitor.push)",
                                       kind: "unsupported", details: JSONObject(["field": .string("id")]))
                }
                let queuedAt = Date()
                let job = CheckJob(
                    id: "run:\(UUID().uuidString.lowercased())", monitorID: id, kind: monitor.kind, target: monitor.target,
                    config: monitor.configJSON, timeoutMilliseconds: monitor.timeoutMilliseconds, scheduledAt: queuedAt,
                    slotMilliseconds: monitor.intervalMilliseconds, manual: true, locations: monitor.locations)
                let limit = Duration.milliseconds(waitMilliseconds ?? Int64(monitor.timeoutMilliseconds) + 5_000)
                if wait {
                    guard await hub.waitUntilSubscribed(timeout: .seconds(2)) else {
                        throw .unavailable("the control plane does not receive events from Redis, so it cannot wait for the result")
                    }
                    hub.expectJob(job.id)
                }
                do {
                    _ = try await redis.xadd(CheckJob.stream, fields: job.streamFields.map { ($0.0, $0.1 as any RedisArgument) })
                } catch {
                    throw .unavailable("Redis is unreachable, so the check cannot be queued")
                }
                await MonitorMethods.audit(store: store, actor: actor(), action: "monitor.run", id: id, details: "{\"job\":\"\(job.id)\"}")
                var answer = JSONObject()
                answer.append("job_id", .string(job.id))
                answer.append("queued_at", .string(RFC3339.string(queuedAt)))
                guard wait else { return .object(answer) }
                guard let event = await hub.waitForJob(job.id, timeout: limit) else {
                    throw JSONRPCError(
                        code: timeoutCode,
                        message: "no result for job \(job.id) within \(limit.wholeMilliseconds) ms; is a supervisor offering kind \(monitor.kind) running? The job stays queued",
                        kind: "timeout", details: JSONObject(["job_id": .string(job.id)]))
                }
                answer.append("result", event["data"] ?? .null)
                return .object(answer)
            }
        }
    }
}

extension MonitorMethods {
    /// Records an action that changes no row (a manual run) in the audit log.
    static func audit(store: MonitorStore, actor: String, action: String, id: Int64, details: String) async {
        _ = try? await store.client.withConnection { connection in
            try await AuditLog.record(on: connection, actor: actor, action: action, subjectKind: "monitor", subjectID: String(id), detailsJSON: details)
        }
    }
}
