import ArgumentParser
import Foundation
import PinguinWire
import PinguinctlKit

struct ResultsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "results",
        abstract: "A monitor's check results, newest first.",
        discussion: "Times are RFC 3339 or a duration ago: --since 1h, --since 2025-06-01T00:00:00Z.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions

    @Argument(help: "Id, NAMESPACE/NAME or NAME.")
    var monitor: MonitorReference

    @Option(help: ArgumentHelp("Start (default: 24 hours before --until).", valueName: "time"))
    var since: String?

    @Option(help: ArgumentHelp("End (default: now).", valueName: "time"))
    var until: String?

    @Option(help: "At most this many (1-10000).")
    var limit = 100

    func run() throws {
        let client = try connection.client()
        var params = JSONObject(["monitor_id": .int(try monitor.id(using: client))])
        if let since { params.append("from", .string(try Flags.time(since, flag: "--since"))) }
        if let until { params.append("to", .string(try Flags.time(until, flag: "--until"))) }
        params.append("limit", .int(limit))
        let page = try client.call("result.list", params)
        let results = (page.objectValue?["results"]?.arrayValue ?? []).compactMap(\.objectValue)
        output.emit(page) { Tables.results(results).render(style: Terminal.statusStyle(column: 2)) }
    }
}

struct UptimeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "uptime",
        abstract: "Time-weighted uptime of some or all monitors.",
        discussion: "Default: every monitor with results in the last 24 hours.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions

    @Argument(help: "Ids, NAMESPACE/NAMEs or NAMEs (default: all).")
    var monitors: [MonitorReference] = []

    @Option(help: "24h, 7d, 30d or 365d before --until.")
    var window: String?

    @Option(help: ArgumentHelp("Start, instead of --window.", valueName: "time"))
    var since: String?

    @Option(help: ArgumentHelp("End (default: now).", valueName: "time"))
    var until: String?

    func run() throws {
        let client = try connection.client()
        var params = JSONObject()
        if !monitors.isEmpty { params.append("monitor_ids", .array(try monitors.map { .int(try $0.id(using: client)) })) }
        if let window { params.append("window", .string(window)) }
        if let since { params.append("from", .string(try Flags.time(since, flag: "--since"))) }
        if let until { params.append("to", .string(try Flags.time(until, flag: "--until"))) }
        let answer = try client.call("uptime.get", params)
        let rows = (answer.objectValue?["monitors"]?.arrayValue ?? []).compactMap(\.objectValue)
        var names: [Int64: String] = [:]
        if output.output == .table || output.output == .wide {
            for monitor in (try? client.allMonitors()) ?? [] {
                if let id = monitor["id"]?.int64Value {
                    names[id] = "\(monitor["namespace"]?.displayText ?? "default")/\(monitor["name"]?.displayText ?? "")"
                }
            }
        }
        output.emit(answer) { Tables.uptime(rows, names: names).render() }
    }
}

struct IncidentsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "incidents",
        abstract: "Outages: when monitors went down and came back.",
        subcommands: [List.self, Get.self],
        defaultSubcommand: List.self,
        aliases: ["incident"]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List incidents, newest first.", aliases: ["list"])

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        @Option(help: "Only this monitor's (id, NAMESPACE/NAME or NAME).")
        var monitor: MonitorReference?

        @Flag(help: "Only incidents still open.")
        var open = false

        @Option(help: ArgumentHelp("Started at or after (RFC 3339 or a duration ago).", valueName: "time"))
        var since: String?

        @Option(help: ArgumentHelp("Started before.", valueName: "time"))
        var until: String?

        @Option(help: "At most this many.")
        var limit: Int?

        func run() throws {
            let client = try connection.client()
            var params = JSONObject()
            if let monitor { params.append("monitor_id", .int(try monitor.id(using: client))) }
            if open { params.append("open", .bool(true)) }
            if let since { params.append("since", .string(try Flags.time(since, flag: "--since"))) }
            if let until { params.append("until", .string(try Flags.time(until, flag: "--until"))) }
            let incidents: [JSONObject]
            if let limit {
                params.append("limit", .int(limit))
                incidents = (try client.call("incident.list", params).objectValue?["incidents"]?.arrayValue ?? []).compactMap(\.objectValue)
            } else {
                incidents = try Flags.listAll(client, method: "incident.list", key: "incidents", params: params)
            }
            output.emit(.array(incidents.map(JSONValue.object))) { Tables.incidents(incidents).render() }
        }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one incident.")

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        @Argument(help: "The incident's id.")
        var id: Int64

        func run() throws {
            let incident = try connection.client().call("incident.get", .id(id))
            output.emit(incident) { Tables.details(incident.objectValue ?? JSONObject()) }
        }
    }
}

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Say whether Pinguin and its PostgreSQL and Redis are healthy (exit 1 if not).")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let client = try connection.client()
        let health = try client.call("system.health")
        let object = health.objectValue ?? JSONObject()
        let healthy = object["healthy"]?.boolValue ?? false
        output.emit(health) {
            var text = "healthy: \(healthy ? "yes" : "no")\n"
            if let version = (try? client.call("system.version"))?.objectValue?["version"]?.stringValue { text += "version: \(version)\n" }
            text += "roles: \((object["roles"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ", "))\n"
            for key in ["postgresql", "redis"] { text += "\(key): \(object[key]?.stringValue ?? "?")\n" }
            if let engine = object["storage"]?.objectValue?["engine"]?.stringValue { text += "storage: \(engine)\n" }
            if let supervisors = object["supervisors"]?.arrayValue { text += "supervisors: \(supervisors.count)\n" }
            if let scheduler = object["scheduler"]?.objectValue {
                func figure(_ key: String) -> String { scheduler[key].map { $0.displayText } ?? "-" }
                text += "scheduler: leader \(figure("leader")), lag p50 \(figure("lag_p50_ms")) ms, p99 \(figure("lag_p99_ms")) ms; dispatched \(figure("dispatched")), skipped \(figure("skipped")), missed \(figure("missed"))\n"
            }
            if let queues = object["queues"]?.objectValue {
                func figure(_ key: String) -> String { queues[key].map { $0.displayText } ?? "-" }
                text += "queues: jobs \(figure("jobs")), results \(figure("results")) (\(figure("results_pending")) being stored)\n"
            }
            for problem in (object["problems"]?.arrayValue ?? []).compactMap(\.stringValue) { text += "problem: \(problem)\n" }
            return text
        }
        if !healthy { throw ExitCode(1) }
    }
}

struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Print live events (results, status changes, incidents) until interrupted.",
        discussion: "One line per event: time, monitor, type, status, message; -o json prints the raw notifications as JSON lines. Events the server had to drop are reported on stderr.")

    @OptionGroup var connection: ConnectionOptions

    @Option(name: .shortAndLong, help: "table (default) or json (one notification per line).")
    var output: OutputFormat = .table

    @Option(name: .customLong("type"), help: "Only these event types: result, status, incident (repeatable).")
    var types: [String] = []

    @Option(name: .customLong("monitor"), help: "Only these monitors (repeatable).")
    var monitors: [MonitorReference] = []

    @Option(name: .customLong("status"), help: "Only these statuses, e.g. down (repeatable).")
    var statuses: [String] = []

    func run() throws {
        let client = try connection.client()
        var params = JSONObject()
        if !types.isEmpty { params.append("types", .array(types.map(JSONValue.string))) }
        if !monitors.isEmpty { params.append("monitor_ids", .array(try monitors.map { .int(try $0.id(using: client)) })) }
        if !statuses.isEmpty { params.append("statuses", .array(statuses.map(JSONValue.string))) }
        _ = try client.call("events.subscribe", params)
        if output == .table { Terminal.write("# watching; Ctrl-C to stop\n") }
        while true {
            let notification = try client.nextNotification()
            let method = notification["method"]?.stringValue
            let event = notification["params"]?.objectValue ?? JSONObject()
            if method == "events.overflow" {
                let dropped = event["dropped"]?.displayText ?? "some"
                let reason = event["reason"]?.stringValue ?? "unknown"
                Terminal.warn("\(dropped) events were dropped (\(reason == "slow_subscriber" ? "this watcher was too slow" : reason == "redis_reconnected" ? "the server reconnected to Redis" : reason))")
                if output == .json { Terminal.write(JSONWriter.string(.object(notification)) + "\n") }
                continue
            }
            guard method == "events.event" else { continue }
            if output == .json {
                Terminal.write(JSONWriter.string(.object(notification)) + "\n")
            } else {
                Terminal.write(Tables.eventLine(event) + "\n")
            }
        }
    }
}

struct CallCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call",
        abstract: "Call any JSON-RPC method and print its result as JSON.",
        discussion: "Example: pinguinctl call monitor.get '{\"id\":1}'; params may be - to read them from stdin.")

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The method, e.g. system.health.")
    var method: String

    @Argument(help: "Named parameters as a JSON object (default: none).")
    var params: String?

    @Flag(help: "Indent the JSON (default: compact, on one line).")
    var pretty = false

    func run() throws {
        var parameters = JSONValue.object(JSONObject())
        if var params {
            if params == "-" { params = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) }
            do {
                parameters = try JSONParser.parse(params)
            } catch {
                throw CLIFailure.usage("params: \(error)")
            }
            guard parameters.objectValue != nil || parameters.arrayValue != nil else {
                throw CLIFailure.usage("params must be a JSON object or array")
            }
        }
        let result = try connection.client().call(method, params: parameters)
        Terminal.write((pretty ? JSONPretty.string(result) : JSONWriter.string(result)) + "\n")
    }
}

struct NotificationsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notifications",
        abstract: "The notification outbox: what was sent, what waits for another attempt, what failed.",
        subcommands: [List.self],
        defaultSubcommand: List.self,
        aliases: ["notification"]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List notifications, newest first.", aliases: ["list"])

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        @Option(help: "Only this channel's (id).")
        var channel: Int64?

        @Option(help: "Only this monitor's (id, NAMESPACE/NAME or NAME).")
        var monitor: MonitorReference?

        @Option(help: "Only in this state: pending, sending, delivered, failed.")
        var state: String?

        @Option(help: "Only this event: down, up, degraded, flapping, reminder, certificate_expiring, test, supervisor_suspect.")
        var event: String?

        @Option(help: "At most this many (1-1000).")
        var limit: Int = 50

        func run() throws {
            let client = try connection.client()
            var params = JSONObject()
            if let channel { params.append("channel_id", .int(channel)) }
            if let monitor { params.append("monitor_id", .int(try monitor.id(using: client))) }
            if let state { params.append("state", .string(state)) }
            if let event { params.append("event", .string(event)) }
            params.append("limit", .int(limit))
            let notifications = (try client.call("notification.list", params).objectValue?["notifications"]?.arrayValue ?? []).compactMap(\.objectValue)
            output.emit(.array(notifications.map(JSONValue.object))) { Tables.notifications(notifications).render() }
        }
    }
}
