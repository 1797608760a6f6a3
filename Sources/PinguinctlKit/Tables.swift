import Foundation
public import PinguinWire

/// The tables each command prints for people; `-o json` and `-o yaml` print the server's objects.
public enum Tables {
    public static func monitors(_ monitors: [JSONObject], now: Int64, wide: Bool = false) -> TextTable {
        var headers = ["ID", "NAMESPACE/NAME", "KIND", "TARGET", "INTERVAL", "STATUS", "SINCE"]
        if wide { headers += ["TIMEOUT", "TAGS", "DEPENDS ON", "LATENCY", "CHECKED", "MESSAGE"] }
        let names = MonitorKey.byID(monitors)
        var table = TextTable(headers: headers)
        for monitor in monitors {
            let status = monitor["status"]?.objectValue
            var state = status?["state"]?.stringValue ?? (monitor["paused"]?.boolValue == true ? "paused" : "-")
            if monitor["enabled"]?.boolValue == false { state = "disabled" }
            var row = [
                monitor["id"]?.displayText ?? "-",
                "\(monitor["namespace"]?.stringValue ?? "default")/\(monitor["name"]?.stringValue ?? "")",
                monitor["kind"]?.stringValue ?? "-",
                TextTable.truncate(monitor["target"]?.stringValue ?? "", to: wide ? 80 : 40),
                duration(monitor["interval_ms"]),
                state,
                Timestamp.age(status?["since"]?.stringValue, now: now),
            ]
            if wide {
                row += [
                    duration(monitor["timeout_ms"]),
                    (monitor["tags"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ","),
                    (monitor["depends_on"]?.arrayValue ?? []).map { id in
                        id.int64Value.flatMap { names[$0] }?.reference(from: monitor["namespace"]?.stringValue ?? "default") ?? id.displayText
                    }.joined(separator: ","),
                    latency(status?["last_latency_ms"]),
                    Timestamp.age(status?["last_checked_at"]?.stringValue, now: now),
                    TextTable.truncate(status?["last_message"]?.stringValue ?? "", to: 60),
                ]
            }
            table.append(row)
        }
        return table
    }

    public static func results(_ results: [JSONObject]) -> TextTable {
        var table = TextTable(headers: ["TIME", "LOCATION", "STATUS", "LATENCY", "MESSAGE"])
        for result in results {
            table.append([
                Timestamp.short(result["scheduled_at"]?.stringValue),
                result["location"]?.stringValue ?? "-",
                result["status"]?.stringValue ?? "-",
                latency(result["latency_ms"]),
                TextTable.truncate(oneLine(result["message"]?.stringValue ?? ""), to: 70),
            ])
        }
        return table
    }

    /// `names` maps monitor ids to `namespace/name` when the caller looked them up.
    public static func uptime(_ rows: [JSONObject], names: [Int64: String] = [:]) -> TextTable {
        var table = TextTable(headers: ["ID", "MONITOR", "UPTIME", "UP", "DOWN", "EXCLUDED", "CHECKS", "INCIDENTS"])
        for row in rows {
            let id = row["monitor_id"]?.int64Value
            var uptime = "-"
            if let fraction = row["uptime"]?.doubleValue { uptime = percent(fraction) }
            table.append([
                id.map(String.init) ?? "-",
                id.flatMap { names[$0] } ?? "-",
                uptime,
                duration(row["up_ms"], rough: true),
                duration(row["down_ms"], rough: true),
                duration(row["excluded_ms"], rough: true),
                row["checks"]?.displayText ?? "-",
                row["incidents"]?.displayText ?? "-",
            ])
        }
        return table
    }

    public static func incidents(_ incidents: [JSONObject]) -> TextTable {
        var table = TextTable(headers: ["ID", "MONITOR", "STARTED", "ENDED", "DURATION", "FAILED", "MESSAGE"])
        for incident in incidents {
            let monitor = incident["monitor_name"]?.stringValue ?? incident["monitor_id"]?.displayText ?? "-"
            let ended = incident["ended_at"]?.stringValue
            table.append([
                incident["id"]?.displayText ?? "-",
                monitor,
                Timestamp.short(incident["started_at"]?.stringValue),
                ended == nil ? "open" : Timestamp.short(ended),
                duration(incident["duration_ms"], rough: true),
                incident["failed_checks"]?.displayText ?? "-",
                TextTable.truncate(oneLine(incident["last_message"]?.stringValue ?? incident["first_message"]?.stringValue ?? ""), to: 60),
            ])
        }
        return table
    }

    public static func notifications(_ notifications: [JSONObject]) -> TextTable {
        var table = TextTable(headers: ["ID", "CREATED", "EVENT", "MONITOR", "CHANNEL", "STATE", "ATTEMPTS", "LAST ERROR"])
        for notification in notifications {
            let monitor = notification["payload"]?.objectValue?["monitor"]?.objectValue
            let channel = notification["payload"]?.objectValue?["channel"]?.objectValue
            table.append([
                notification["id"]?.displayText ?? "-",
                Timestamp.short(notification["created_at"]?.stringValue),
                notification["event"]?.stringValue ?? "-",
                monitor?["name"]?.stringValue ?? notification["monitor_id"]?.displayText ?? "-",
                channel?["name"]?.stringValue ?? notification["channel_id"]?.displayText ?? "-",
                notification["state"]?.stringValue ?? "-",
                notification["attempts"]?.displayText ?? "-",
                TextTable.truncate(oneLine(notification["last_error"]?.stringValue ?? ""), to: 60),
            ])
        }
        return table
    }

    public static func channels(_ channels: [JSONObject]) -> TextTable {
        var table = TextTable(headers: ["ID", "NAMESPACE/NAME", "KIND", "ENABLED", "MONITORS", "SECRETS"])
        for channel in channels {
            let monitors = channel["monitor_ids"]?.arrayValue ?? []
            table.append([
                channel["id"]?.displayText ?? "-",
                "\(channel["namespace"]?.stringValue ?? "default")/\(channel["name"]?.stringValue ?? "")",
                channel["kind"]?.stringValue ?? "-",
                yesNo(channel["enabled"]),
                monitors.isEmpty ? "all" : monitors.map(\.displayText).joined(separator: ","),
                (channel["secrets"]?.arrayValue ?? []).map(\.displayText).joined(separator: ","),
            ])
        }
        return table
    }

    public static func maintenance(_ windows: [JSONObject]) -> TextTable {
        var table = TextTable(headers: ["ID", "NAMESPACE/NAME", "ACTIVE", "SCHEDULE", "NEXT START", "ENABLED"])
        for window in windows {
            var schedule = "-"
            if let cron = window["cron"]?.stringValue {
                schedule = "cron \(cron)" + (window["duration_ms"].map { " for \(duration($0))" } ?? "")
                if let zone = window["timezone"]?.stringValue { schedule += " \(zone)" }
            } else if let start = window["starts_at"]?.stringValue {
                schedule = "\(Timestamp.short(start)) - \(Timestamp.short(window["ends_at"]?.stringValue))"
            }
            table.append([
                window["id"]?.displayText ?? "-",
                "\(window["namespace"]?.stringValue ?? "default")/\(window["name"]?.stringValue ?? "")",
                yesNo(window["active_now"]),
                schedule,
                Timestamp.short(window["next_start"]?.stringValue),
                yesNo(window["enabled"]),
            ])
        }
        return table
    }

    public static func tokens(_ tokens: [JSONObject]) -> TextTable {
        var table = TextTable(headers: ["ID", "NAME", "SCOPE", "PREFIX", "CREATED", "EXPIRES", "LAST USED", "REVOKED"])
        for token in tokens {
            table.append([
                token["id"]?.displayText ?? "-",
                token["name"]?.stringValue ?? "",
                token["scope"]?.stringValue ?? "-",
                token["prefix"]?.stringValue ?? "-",
                Timestamp.short(token["created_at"]?.stringValue),
                Timestamp.short(token["expires_at"]?.stringValue),
                Timestamp.short(token["last_used_at"]?.stringValue),
                Timestamp.short(token["revoked_at"]?.stringValue),
            ])
        }
        return table
    }

    public static func plugins(_ plugins: [JSONObject]) -> TextTable {
        var table = TextTable(headers: ["KIND", "PLUGIN", "VERSION", "PROTOCOL", "CONCURRENCY", "SUPERVISORS"])
        for plugin in plugins {
            table.append([
                plugin["kind"]?.stringValue ?? "-",
                plugin["plugin"]?.stringValue ?? "-",
                plugin["version"]?.displayText ?? "-",
                plugin["protocol"]?.displayText ?? "-",
                plugin["max_concurrency"]?.displayText ?? "-",
                (plugin["supervisors"]?.arrayValue ?? []).map(\.displayText).joined(separator: ","),
            ])
        }
        return table
    }

    /// `depends_on` ids with the names of the `monitors` among them: `3 (infra/router), 7`.
    public static func dependencies(_ ids: [JSONValue], monitors: [JSONObject]) -> String {
        let names = MonitorKey.byID(monitors)
        return ids.map { id in id.int64Value.flatMap { names[$0] }.map { "\(id.displayText) (\($0))" } ?? id.displayText }.joined(separator: ", ")
    }

    /// One object as `key: value` lines, nested values as compact JSON.
    public static func details(_ object: JSONObject) -> String {
        let width = object.keys.map(\.count).max() ?? 0
        var output = ""
        for index in 0..<object.count {
            let key = object.keys[index]
            output += key + ":" + String(repeating: " ", count: width - key.count + 1) + object.values[index].displayText + "\n"
        }
        return output
    }

    /// One events.event notification as a line: time, monitor, type, status, message.
    public static func eventLine(_ event: JSONObject) -> String {
        let data = event["data"]?.objectValue ?? JSONObject()
        let monitor = data["monitor_name"]?.stringValue ?? data["name"]?.stringValue ?? event["monitor_id"].map { "monitor \($0.displayText)" } ?? "-"
        let status = data["status"]?.stringValue ?? data["state"]?.stringValue ?? data["to"]?.stringValue ?? "-"
        var message = data["message"]?.stringValue ?? data["last_message"]?.stringValue ?? ""
        if let latency = data["latency_ms"], latency != .null { message = "\(Self.latency(latency)) \(message)" }
        let fields = [
            Timestamp.short(event["at"]?.stringValue),
            monitor,
            event["type"]?.stringValue ?? "-",
            status,
            oneLine(message),
        ]
        return fields.joined(separator: "  ").trimmingWhitespace()
    }

    // MARK: Cells

    static func duration(_ value: JSONValue?, rough: Bool = false) -> String {
        guard let milliseconds = value?.int64Value else { return value?.doubleValue.map { "\(Int64($0))ms" } ?? "-" }
        return rough ? DurationText.age(milliseconds: milliseconds) : DurationText.format(milliseconds: milliseconds)
    }

    static func latency(_ value: JSONValue?) -> String {
        guard let milliseconds = value?.doubleValue else { return "-" }
        if milliseconds >= 1000 { return String(format: "%.2fs", milliseconds / 1000) }
        if milliseconds >= 100 { return "\(Int(milliseconds.rounded()))ms" }
        return String(format: "%.1fms", milliseconds)
    }

    static func percent(_ fraction: Double) -> String {
        String(format: "%.3f%%", fraction * 100)
    }

    static func yesNo(_ value: JSONValue?) -> String {
        guard let flag = value?.boolValue else { return "-" }
        return flag ? "yes" : "no"
    }

    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}
