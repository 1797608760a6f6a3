import Foundation
import PinguinModel
public import PinguinRedis
import PinguinScheduler
public import PinguinStore
public import PinguinWire

/// Push monitors, a dead-man's switch for cron jobs: `monitor.push_token` makes a token that can
/// only push to one monitor; `monitor.push` (no `auth` needed, the token is a parameter) records
/// a check-in, which the scheduler turns into the result of the monitor's next slot.
public enum PushMethods {
    public static func register(
        into router: inout JSONRPCRouter, monitors: MonitorStore, tokens: TokenStore, redis: RedisClient, throttle: AuthThrottle,
        actor: @escaping @Sendable () -> String
    ) {
        router.register("monitor.push_token", scope: .write) { request in
            await MonitorMethods.run { () throws(JSONRPCError) -> JSONValue in
                var params = try NamedParams(request.params, method: request.method)
                let id = try params.requiredInteger("id", in: 1...Int64.max)
                let name = try params.string("name", maxLength: 200)
                let expires = try params.time("expires_at")
                try params.rejectUnknown()
                if let expires, expires <= Date() { throw .invalidParams("expires_at is in the past", field: "expires_at") }
                guard let monitor = try await MonitorMethods.storeCall({ try await monitors.get(id: id) }) else { throw MonitorMethods.notFound(id) }
                guard monitor.kind == "push" else {
                    throw .invalidParams("monitor \(id) is of kind \(monitor.kind); push tokens are for monitors of kind push", field: "id")
                }
                let (record, secret) = try await MonitorMethods.storeCall {
                    try await tokens.createPush(monitorID: id, name: name ?? "push \(monitor.name)", expiresAt: expires, actor: actor())
                }
                // TokenRecord knows the API scopes only; this one is a push token.
                let base = AuthMethods.json(record).objectValue ?? JSONObject()
                var object = JSONObject()
                for (key, value) in zip(base.keys, base.values) { object.append(key, key == "scope" ? .string("push") : value) }
                object.append("monitor_id", .int(id))
                object.append("token", .string(secret))
                return .object(object)
            }
        }
        router.register("monitor.push", scope: nil) { request in
            await MonitorMethods.run { () throws(JSONRPCError) -> JSONValue in
                var params = try NamedParams(request.params, method: request.method)
                let secret = try params.requiredString("token", maxLength: 200)
                let statusText = try params.string("status", maxLength: 16) ?? "up"
                let message = try params.string("message", maxLength: 1_024) ?? ""
                let duration = try params.number("duration_ms", in: 0...86_400_000)
                try params.rejectUnknown()
                guard let status = Pushes.Status(rawValue: statusText) else {
                    throw .invalidParams("status must be up, down or degraded, not \(statusText)", field: "status")
                }
                let address = RequestContext.current.connection.address
                try throttle.refuseIfBlocked(address)
                guard let token = try await MonitorMethods.storeCall({ try await tokens.verifyPush(secret) }) else {
                    throttle.failed(address)
                    throw JSONRPCError(code: JSONRPCError.unauthenticatedCode, message: "not a valid push token", kind: "unauthenticated",
                                       details: JSONObject(["field": .string("token")]))
                }
                throttle.succeeded(address)
                let at: Int64
                do {
                    at = try await Pushes(redis: redis).record(monitor: token.monitorID, status: status, message: message, durationMilliseconds: duration)
                } catch {
                    throw .unavailable("Redis is unreachable, so the push cannot be recorded; retry")
                }
                return .object(JSONObject([
                    "accepted": .bool(true), "monitor_id": .int(token.monitorID),
                    "at": .string(RFC3339.string(Date(timeIntervalSince1970: Double(at) / 1000))),
                ]))
            }
        }
    }
}
