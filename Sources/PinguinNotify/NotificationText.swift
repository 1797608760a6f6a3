public import PinguinWire

/// The words of a notification for people (chat messages, email, ntfy), made from its payload
/// (proto-docs/notifications.md): a title of one line and a body of a few.
public struct NotificationText: Sendable, Hashable {
    public var title: String
    public var body: String

    public init(payload: JSONObject) {
        let event = payload["event"]?.stringValue ?? "notification"
        let monitor = payload["monitor"]?.objectValue
        let name = monitor?["name"]?.stringValue ?? "monitor \(monitor?["id"]?.int64Value.map(String.init) ?? "?")"
        let target = monitor?["target"]?.stringValue ?? ""
        let message = payload["message"]?.stringValue ?? ""
        let incident = payload["incident"]?.objectValue
        let status = payload["status"]?.stringValue ?? ""
        var lines: [String] = []
        switch event {
        case "down":
            title = "\(name) is down"
            let since = incident?["started_at"]?.stringValue ?? payload["at"]?.stringValue ?? ""
            lines.append(message)
            if !since.isEmpty { lines.append("Failing since \(since).") }
        case "up":
            title = "\(name) is up"
            if let outage = payload["outage_seconds"]?.doubleValue {
                lines.append("Back after \(Self.duration(outage)) of outage.")
            } else {
                lines.append("It is up again.")
            }
            if !message.isEmpty { lines.append(message) }
        case "degraded":
            title = "\(name) is degraded"
            lines.append(message)
        case "flapping":
            let flapping = payload["flapping"]?.objectValue
            let percent = flapping?["percent"]?.doubleValue.map { "\($0)%" } ?? "?"
            if flapping?["state"]?.stringValue == "stopped" {
                title = "\(name) stopped flapping"
                lines.append("State changes fell to \(percent) of recent checks; it is \(status).")
            } else {
                title = "\(name) is flapping"
                lines.append("\(percent) of recent checks changed its state; it is \(status) now. No further alert is sent until it settles.")
            }
        case "reminder":
            title = "\(name) is still down"
            if let seconds = incident?["duration_seconds"]?.doubleValue { lines.append("Down for \(Self.duration(seconds)).") }
            if !message.isEmpty { lines.append(message) }
        case "certificate_expiring":
            let certificate = payload["certificate"]?.objectValue
            let days = certificate?["days_left"]?.int64Value
            title = switch days {
            case let days? where days < 0: "The certificate of \(name) has expired"
            case 0?: "The certificate of \(name) expires today"
            case let days?: "The certificate of \(name) expires in \(days) day\(days == 1 ? "" : "s")"
            case nil: "The certificate of \(name) expires soon"
            }
            if let notAfter = certificate?["not_after"]?.stringValue { lines.append("It is valid until \(notAfter).") }
            if let subject = certificate?["subject"]?.stringValue { lines.append("Subject: \(subject)") }
        case "supervisor_suspect":
            let supervisor = payload["supervisor"]?.objectValue
            let supervisorName = supervisor?["name"]?.stringValue ?? "?"
            title = supervisor?["state"]?.stringValue == "cleared"
                ? "Supervisor \(supervisorName) works again" : "Supervisor \(supervisorName) is suspect"
            lines.append(message)
        case "test":
            title = "Test notification from Pinguin"
            lines.append(message.isEmpty ? "This channel works." : message)
        default:
            title = "\(name): \(event)"
            lines.append(message)
        }
        if !target.isEmpty, event != "test", event != "supervisor_suspect" { lines.append("Target: \(target)") }
        body = lines.filter { !$0.isEmpty }.joined(separator: "\n")
    }

    /// `1h 02m 05s`, `3m 10s`, `42s`.
    public static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        let (hours, minutes, rest) = (total / 3600, total % 3600 / 60, total % 60)
        if hours > 0 { return "\(hours)h \(pad(minutes))m \(pad(rest))s" }
        if minutes > 0 { return "\(minutes)m \(pad(rest))s" }
        return "\(rest)s"
    }

    private static func pad(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
