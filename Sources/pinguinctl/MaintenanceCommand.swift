import ArgumentParser
import Foundation
import PinguinWire
import PinguinctlKit

struct MaintenanceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "maintenance",
        abstract: "Maintenance windows: times when monitors' failures do not count or alert.",
        subcommands: [Add.self, List.self, Get.self, Edit.self, Remove.self],
        aliases: ["mw"]
    )

    struct Fields: ParsableArguments {
        @Option(help: "Free text.")
        var description: String?

        @Option(help: ArgumentHelp("One-off window start (RFC 3339, or a duration ago).", valueName: "time"))
        var start: String?

        @Option(help: ArgumentHelp("One-off window end.", valueName: "time"))
        var end: String?

        @Option(help: ArgumentHelp("Recurring: a cron expression for each start, e.g. '0 3 * * SUN'.", valueName: "expr"))
        var cron: String?

        @Option(help: ArgumentHelp("Recurring: how long each window lasts.", valueName: "duration"))
        var duration: String?

        @Option(help: "Time zone of --cron, e.g. Europe/Berlin (default: UTC).")
        var timezone: String?

        @Option(name: .customLong("monitor"), help: "Monitors it covers (repeatable).")
        var monitors: [MonitorReference] = []

        @Option(name: .customLong("tag"), help: "Covers monitors with this tag (repeatable).")
        var tags: [String] = []

        @Option(help: ArgumentHelp("Whether the window applies (true/false).", valueName: "bool"))
        var enabled: Bool?

        func params(client: LineClient) throws -> JSONObject {
            var params = JSONObject()
            if let description { params.append("description", .string(description)) }
            if let start { params.append("starts_at", .string(try Flags.time(start, flag: "--start"))) }
            if let end { params.append("ends_at", .string(try Flags.time(end.hasPrefix("+") ? String(end.dropFirst()) : end, flag: "--end"))) }
            if let cron { params.append("cron", .string(cron)) }
            if let duration { params.append("duration_ms", .int(try Flags.duration(duration, flag: "--duration"))) }
            if let timezone { params.append("timezone", .string(timezone)) }
            if !monitors.isEmpty { params.append("monitor_ids", .array(try monitors.map { .int(try $0.id(using: client)) })) }
            if !tags.isEmpty { params.append("tags", .array(tags.map(JSONValue.string))) }
            if let enabled { params.append("enabled", .bool(enabled)) }
            return params
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a maintenance window.",
            discussion: """
            One-off: --start 2025-06-01T02:00:00Z --end 2025-06-01T04:00:00Z
            Recurring: --cron '0 3 * * SUN' --duration 2h --timezone Europe/Berlin
            """,
            aliases: ["create"])

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        @Argument(help: "The window's name.")
        var name: String

        @Option(name: .shortAndLong, help: "Namespace (default: default).")
        var namespace: String?

        @OptionGroup var fields: Fields

        func run() throws {
            if fields.cron != nil && (fields.start != nil || fields.end != nil) {
                throw CLIFailure.usage("give --start/--end for one window or --cron/--duration for recurring ones, not both")
            }
            let client = try connection.client()
            var params = JSONObject(["name": .string(name)])
            if let namespace { params.append("namespace", .string(namespace)) }
            let rest = try fields.params(client: client)
            for index in 0..<rest.count { params.append(rest.keys[index], rest.values[index]) }
            let window = try client.call("maintenance.create", params)
            output.emit(window) { "maintenance window \(name) created (id \(window.objectValue?["id"]?.displayText ?? "?"))\n" }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List maintenance windows.", aliases: ["list"])

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        @Option(name: .shortAndLong, help: "Only this namespace.")
        var namespace: String?

        @Flag(help: "Only windows active now.")
        var active = false

        @Option(help: "Only windows covering this monitor.")
        var monitor: MonitorReference?

        func run() throws {
            let client = try connection.client()
            var params = JSONObject()
            if let namespace { params.append("namespace", .string(namespace)) }
            if active { params.append("active", .bool(true)) }
            if let monitor { params.append("monitor_id", .int(try monitor.id(using: client))) }
            let windows = try Flags.listAll(client, method: "maintenance.list", key: "windows", params: params)
            output.emit(.array(windows.map(JSONValue.object))) { Tables.maintenance(windows).render() }
        }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one maintenance window.")

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        @Argument(help: "The window's id.")
        var id: Int64

        func run() throws {
            let window = try connection.client().call("maintenance.get", .id(id))
            output.emit(window) { Tables.details(window.objectValue ?? JSONObject()) }
        }
    }

    struct Edit: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change some fields of a maintenance window.", aliases: ["update"])

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        @Argument(help: "The window's id.")
        var id: Int64

        @Option(help: "A new name.")
        var name: String?

        @OptionGroup var fields: Fields

        func run() throws {
            let client = try connection.client()
            var params = JSONObject.id(id)
            if let name { params.append("name", .string(name)) }
            let rest = try fields.params(client: client)
            guard rest.count > 0 || name != nil else { throw CLIFailure.usage("nothing to change") }
            for index in 0..<rest.count { params.append(rest.keys[index], rest.values[index]) }
            let window = try client.call("maintenance.update", params)
            output.emit(window) { "maintenance window \(id) updated\n" }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete maintenance windows.", aliases: ["delete"])

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "Window ids.")
        var ids: [Int64]

        func run() throws {
            try deleteAll(connection: connection, method: "maintenance.delete", noun: "maintenance window", ids: ids)
        }
    }
}
