import Foundation
public import PinguinModel
import PinguinWire

/// `monitor_state.engine`: the status engine's memory as a JSON object. Dates are whole
/// microseconds since 1970 (PostgreSQL's precision), so a slot read back compares equal to the
/// same slot read from `results`. Written by hand with PinguinWire: Foundation's JSONDecoder cost
/// the ingester 16 µs per result.
extension MonitorStatusState {
    /// Reads a stored state; what is missing or unreadable takes its fresh value.
    public init(engineJSON text: String) {
        self.init()
        guard let object = (try? JSONParser.parse(text))?.objectValue else { return }
        func date(_ key: String) -> Date? { object[key]?.int64Value.map { Date(unixMicroseconds: $0) } }
        func int(_ key: String) -> Int { Int(object[key]?.int64Value ?? 0) }
        status = object["status"]?.stringValue.flatMap(MonitorStatus.init(rawValue:)) ?? .pending
        since = date("since")
        lastScheduledAt = date("last_scheduled_at")
        failures = int("failures")
        successes = int("successes")
        degradations = int("degradations")
        unknowns = int("unknowns")
        failingSince = date("failing_since")
        firstFailureMessage = object["first_failure_message"]?.stringValue
        recoveringSince = date("recovering_since")
        incidentOpen = object["incident_open"]?.boolValue ?? false
        incidentStartedAt = date("incident_started_at")
        notified = object["notified"]?.stringValue.flatMap(MonitorStatus.init(rawValue:))
        flapping = object["flapping"]?.boolValue ?? false
        history = object["history"]?.stringValue ?? ""
    }

    /// The state as stored; absent values are left out.
    public var engineJSON: String {
        var object = JSONObject()
        func date(_ key: String, _ value: Date?) { if let value { object.append(key, .int(value.unixMicroseconds)) } }
        object.append("status", .string(status.rawValue))
        date("since", since)
        date("last_scheduled_at", lastScheduledAt)
        object.append("failures", .int(Int64(failures)))
        object.append("successes", .int(Int64(successes)))
        object.append("degradations", .int(Int64(degradations)))
        object.append("unknowns", .int(Int64(unknowns)))
        date("failing_since", failingSince)
        if let firstFailureMessage { object.append("first_failure_message", .string(firstFailureMessage)) }
        date("recovering_since", recoveringSince)
        object.append("incident_open", .bool(incidentOpen))
        date("incident_started_at", incidentStartedAt)
        if let notified { object.append("notified", .string(notified.rawValue)) }
        object.append("flapping", .bool(flapping))
        object.append("history", .string(history))
        return JSONWriter.string(.object(object))
    }
}
