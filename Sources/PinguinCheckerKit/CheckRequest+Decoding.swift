import Foundation
import PinguinWire

extension CheckRequest {
    /// `check.run` params (schemas/plugin/check-run-params.json) as a request, the config's
    /// top-level defaults filled in and the absolute deadline moved onto the continuous clock.
    static func decode(_ params: JSONRPCParams, plugin: PluginDescription, now: ContinuousClock.Instant, nowWall: Double) -> Result<CheckRequest, JSONRPCError> {
        guard case .object(let object) = params else {
            return .failure(.invalidParams("check.run takes an object"))
        }
        guard case .string(let kind)? = object["kind"] else { return .failure(.invalidParams("kind must be a string", field: "kind")) }
        guard let schema = plugin.configSchemas[kind] else {
            return .failure(JSONRPCError(code: JSONRPCError.invalidParamsCode, message: "this plugin does not check kind \"\(kind)\"", kind: "unsupported_kind"))
        }
        guard case .string(let checkID)? = object["check_id"] else { return .failure(.invalidParams("check_id must be a string", field: "check_id")) }
        guard case .string(let target)? = object["target"] else { return .failure(.invalidParams("target must be a string", field: "target")) }
        guard case .object(let rawConfig)? = object["config"] else { return .failure(.invalidParams("config must be an object", field: "config")) }
        guard case .string(let deadlineText)? = object["deadline"], let deadlineWall = RFC3339.secondsSince1970(deadlineText) else {
            return .failure(.invalidParams("deadline must be an RFC 3339 date-time", field: "deadline"))
        }
        guard let timeoutMilliseconds = object["timeout_ms"]?.int64Value, timeoutMilliseconds >= 1 else {
            return .failure(.invalidParams("timeout_ms must be a positive integer", field: "timeout_ms"))
        }
        var monitorID: Int64?
        if let value = object["monitor_id"] {
            guard let number = value.int64Value else { return .failure(.invalidParams("monitor_id must be an integer", field: "monitor_id")) }
            monitorID = number
        }
        var scheduledAt: Date?
        if let value = object["scheduled_at"] {
            guard case .string(let text) = value, let seconds = RFC3339.secondsSince1970(text) else {
                return .failure(.invalidParams("scheduled_at must be an RFC 3339 date-time", field: "scheduled_at"))
            }
            scheduledAt = Date(timeIntervalSince1970: seconds)
        }
        let config = schema.applyingDefaults(to: .object(rawConfig)).objectValue ?? rawConfig
        // Clamp so that a deadline years away cannot overflow the instant.
        let remaining = min(max(deadlineWall - nowWall, -1), 1e9)
        return .success(CheckRequest(
            checkID: checkID, monitorID: monitorID, kind: kind, target: target, config: config,
            deadline: now.advanced(by: .nanoseconds(Int64(remaining * 1e9))),
            timeout: .milliseconds(timeoutMilliseconds), scheduledAt: scheduledAt))
    }
}
