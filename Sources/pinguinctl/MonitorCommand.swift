import ArgumentParser
import Foundation
import PinguinWire
import PinguinctlKit

struct MonitorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor",
        abstract: "Create, list, change and run monitors.",
        discussion: "A MONITOR argument is an id, NAMESPACE/NAME, or a NAME in the default namespace.",
        subcommands: [Add.self, List.self, Get.self, Edit.self, Remove.self, Pause.self, Resume.self, Run.self],
        aliases: ["monitors", "mon"]
    )
}

/// The settable fields as flags, shared by `monitor add` and `monitor edit`: only given ones are sent.
struct MonitorFieldOptions: ParsableArguments {
    @Option(help: "What to check: URL, host:port, name or address.")
    var target: String?

    @Option(help: ArgumentHelp("How often to check (500ms, 30s, 1m, 1h).", valueName: "duration"))
    var interval: String?

    @Option(help: ArgumentHelp("How long a check may take (at most the interval).", valueName: "duration"))
    var timeout: String?

    @Option(help: ArgumentHelp("Interval of confirmation re-checks while failing.", valueName: "duration"))
    var retryInterval: String?

    @Option(help: "Failures in a row before the monitor is down (1-100).")
    var failureThreshold: Int?

    @Option(help: "Successes in a row before it is up again (1-100).")
    var recoveryThreshold: Int?

    @Option(help: ArgumentHelp("Up means down and down means up (true/false).", valueName: "bool"))
    var upsideDown: Bool?

    @Option(help: ArgumentHelp("Whether the monitor is scheduled at all (true/false).", valueName: "bool"))
    var enabled: Bool?

    @Option(name: .customLong("tag"), help: "A tag (repeat for several; replaces the list).")
    var tags: [String] = []

    @Option(name: .customLong("location"), help: "A location to check from (repeat for several; replaces the list).")
    var locations: [String] = []

    @Option(name: .customLong("depends-on"), help: ArgumentHelp(
        "A monitor this one depends on: while it is down, this one's alerts are held back (repeat for several; replaces the list).",
        valueName: "monitor"))
    var dependsOn: [MonitorReference] = []

    @Option(help: "Free text.")
    var description: String?

    @Option(help: ArgumentHelp("Kind-specific settings as a JSON object (replaces them).", valueName: "json"))
    var config: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("One kind-specific setting, key=value (repeatable; JSON values keep their type).", valueName: "key=value"))
    var settings: [String] = []

    /// The given fields as params; `current` is the config that `--set` edits. `client` looks up
    /// the monitors `--depends-on` names.
    func params(client: some RPCCalling, currentConfig: JSONObject?) throws -> JSONObject {
        var params = JSONObject()
        if let target { params.append("target", .string(target)) }
        if let interval { params.append("interval_ms", .int(try Flags.duration(interval, flag: "--interval"))) }
        if let timeout { params.append("timeout_ms", .int(try Flags.duration(timeout, flag: "--timeout"))) }
        if let retryInterval { params.append("retry_interval_ms", .int(try Flags.duration(retryInterval, flag: "--retry-interval"))) }
        if let failureThreshold { params.append("failure_threshold", .int(failureThreshold)) }
        if let recoveryThreshold { params.append("recovery_threshold", .int(recoveryThreshold)) }
        if let upsideDown { params.append("upside_down", .bool(upsideDown)) }
        if let enabled { params.append("enabled", .bool(enabled)) }
        if !tags.isEmpty { params.append("tags", .array(tags.map(JSONValue.string))) }
        if !locations.isEmpty { params.append("locations", .array(locations.map(JSONValue.string))) }
        if !dependsOn.isEmpty { params.append("depends_on", .array(try dependsOn.map { .int(try $0.id(using: client)) })) }
        if let description { params.append("description", .string(description)) }
        if config != nil || !settings.isEmpty {
            var object = try config.map { try Flags.jsonObject($0, flag: "--config") } ?? currentConfig ?? JSONObject()
            object = try Flags.assignments(settings, into: object, flag: "--set")
            params.append("config", .object(object))
        }
        return params
    }
}

extension MonitorCommand {
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add",
            abstract: "Create a monitor.",
            discussion: "Example: pinguinctl monitor add web --kind http --target https://example.com --interval 30s --set expected_status=200",
            aliases: ["create"]
        )

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        @Argument(help: "The monitor's name, or NAMESPACE/NAME.")
        var name: String

        @Option(name: .shortAndLong, help: "Namespace (default: default).")
        var namespace: String?

        @Option(help: "Checker kind: http, tcp, dns, ping, or a plugin's.")
        var kind: String

        @OptionGroup var fields: MonitorFieldOptions

        @Flag(help: "Pause it right after creating it.")
        var paused = false

        func run() throws {
            var namespace = self.namespace
            var name = self.name
            if let slash = name.firstIndex(of: "/") {
                guard namespace == nil else { throw CLIFailure.usage("give the namespace as NAMESPACE/NAME or --namespace, not both") }
                namespace = String(name[..<slash])
                name = String(name[name.index(after: slash)...])
            }
            guard fields.target != nil else { throw CLIFailure.usage("monitor add needs --target") }
            var params = JSONObject()
            if let namespace { params.append("namespace", .string(namespace)) }
            params.append("name", .string(name))
            params.append("kind", .string(kind))
            let client = try connection.client()
            let rest = try fields.params(client: client, currentConfig: nil)
            for index in 0..<rest.count { params.append(rest.keys[index], rest.values[index]) }
            var monitor = try client.call("monitor.create", params)
            for warning in monitor.objectValue?["warnings"]?.arrayValue ?? [] { Terminal.warn(warning.displayText) }
            if paused, let id = monitor.objectValue?["id"]?.int64Value {
                monitor = try client.call("monitor.pause", .id(id))
            }
            output.emit(monitor) {
                let object = monitor.objectValue ?? JSONObject()
                return "monitor \(object["namespace"]?.displayText ?? "default")/\(object["name"]?.displayText ?? name) created (id \(object["id"]?.displayText ?? "?"))\n"
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List monitors.", aliases: ["list"])

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        @Option(name: .shortAndLong, help: "Only this namespace (default: all).")
        var namespace: String?

        @Option(help: "Only this kind.")
        var kind: String?

        @Option(name: .customLong("tag"), help: "Only monitors with this tag (repeat: all of them).")
        var tags: [String] = []

        @Option(help: "Only monitors whose name, target or description contains this.")
        var text: String?

        @Option(help: "Only monitors in this state: up, down, degraded, pending, unknown, paused, maintenance.")
        var status: String?

        func run() throws {
            var filters = JSONObject()
            if let kind { filters.append("kind", .string(kind)) }
            if !tags.isEmpty { filters.append("tags", .array(tags.map(JSONValue.string))) }
            if let text { filters.append("text", .string(text)) }
            if let status { filters.append("status", .string(status)) }
            let monitors = try connection.client().allMonitors(namespace: namespace, filters: filters)
            output.emit(.array(monitors.map(JSONValue.object))) {
                Tables.monitors(monitors, now: Timestamp.nowMilliseconds, wide: output.wide).render(style: Terminal.statusStyle(column: 5))
            }
        }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "get", abstract: "Show one monitor with its status.", aliases: ["show", "describe"])

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        @Argument(help: "Id, NAMESPACE/NAME or NAME.")
        var monitor: MonitorReference

        func run() throws {
            let client = try connection.client()
            let value = try client.call("monitor.get", .id(try monitor.id(using: client)))
            var object = value.objectValue ?? JSONObject()
            if output.output == .table || output.output == .wide, let ids = object["depends_on"]?.arrayValue, !ids.isEmpty {
                let dependencies = try client.dependencies(of: [object], besides: [])
                object = object.setting("depends_on", .string(Tables.dependencies(ids, monitors: dependencies)))
            }
            output.emit(value) {
                let status = object["status"]?.objectValue
                var text = Tables.details(object.removing(["status"]))
                if let status { text += "status:\n" + Tables.details(status).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") + "\n" }
                return text
            }
        }
    }

    struct Edit: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "edit",
            abstract: "Change some fields of a monitor; without field flags, in $EDITOR.",
            discussion: """
            Only the given fields change. --set edits one config key and keeps the others. The change is \
            made only if nobody else changed the monitor since it was read (optimistic locking).
            Without field flags, the monitor opens in $VISUAL/$EDITOR in the apply format.
            """,
            aliases: ["update"]
        )

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        @Argument(help: "Id, NAMESPACE/NAME or NAME.")
        var monitor: MonitorReference

        @Option(help: "A new name.")
        var name: String?

        @OptionGroup var fields: MonitorFieldOptions

        func run() throws {
            let client = try connection.client()
            let id = try monitor.id(using: client)
            let current = try client.call("monitor.get", .id(id)).objectValue ?? JSONObject()
            var changes = try fields.params(client: client, currentConfig: current["config"]?.objectValue)
            if let name { changes = changes.setting("name", .string(name)) }
            if changes.count == 0 {
                try editInEditor(current: current, client: client)
                return
            }
            var params = JSONObject.id(id)
            if let version = current["version"] { params.append("version", version) }
            for index in 0..<changes.count { params.append(changes.keys[index], changes.values[index]) }
            let updated = try client.call("monitor.update", params)
            output.emit(updated) { "monitor \(id) updated (\(changes.keys.joined(separator: ", ")))\n" }
        }

        private func editInEditor(current: JSONObject, client: LineClient) throws {
            var known = try client.dependencies(of: [current], besides: [current])
            let spec = MonitorSpec(serverMonitor: current, names: MonitorKey.byID(known + [current]))
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("pinguinctl-edit-\(getpid()).yaml").path
            let header = "# Edit monitor \(spec.key) (id \(current["id"]?.displayText ?? "?")); save and quit to apply, empty the file to cancel.\n"
            guard FileManager.default.createFile(atPath: path, contents: Data((header + YAMLBridge.string(.object(spec.document))).utf8),
                                                 attributes: [.posixPermissions: 0o600]) else {
                throw CLIFailure.usage("cannot write \(path)")
            }
            defer { try? FileManager.default.removeItem(atPath: path) }
            let environment = ProcessInfo.processInfo.environment
            let editor = environment["VISUAL"] ?? environment["EDITOR"] ?? "vi"
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "\(editor) \"$1\"", "editor", path]
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { throw CLIFailure.usage("the editor failed; nothing changed") }
            let text = String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
            let manifest = try Manifest.parse(text, source: "edited monitor")
            guard !manifest.monitors.isEmpty else { Terminal.write("edit cancelled\n"); return }
            guard manifest.monitors.count == 1, manifest.monitors[0].key == spec.key else {
                throw CLIFailure.usage("the edited file must hold this one monitor, \(spec.key) (rename with --name)")
            }
            known += try ApplyRunner(client: client).dependencies(of: manifest, current: known + [current], listed: [])
            let plan = ApplyPlan(manifest: manifest, current: known + [current], prune: false)
            if let problem = plan.problems.first { throw CLIFailure(problem, code: .failed) }
            guard plan.hasChanges else { Terminal.write("no changes\n"); return }
            let failures = ApplyRunner(client: client).execute(plan, report: { Terminal.write($0 + "\n") }, warn: Terminal.error)
            if failures > 0 { throw ExitCode(1) }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete monitors with their results.", aliases: ["delete"])

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "Ids, NAMESPACE/NAMEs or NAMEs.")
        var monitors: [MonitorReference]

        func run() throws {
            try forEachMonitor(connection: connection, monitors) { client, id, reference in
                _ = try client.call("monitor.delete", .id(id))
                Terminal.write("monitor \(reference) deleted\n")
            }
        }
    }

    struct Pause: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pause monitors: their slots are recorded as paused and not checked.")

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "Ids, NAMESPACE/NAMEs or NAMEs.")
        var monitors: [MonitorReference]

        func run() throws {
            try forEachMonitor(connection: connection, monitors) { client, id, reference in
                _ = try client.call("monitor.pause", .id(id))
                Terminal.write("monitor \(reference) paused\n")
            }
        }
    }

    struct Resume: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume paused monitors.")

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "Ids, NAMESPACE/NAMEs or NAMEs.")
        var monitors: [MonitorReference]

        func run() throws {
            try forEachMonitor(connection: connection, monitors) { client, id, reference in
                _ = try client.call("monitor.resume", .id(id))
                Terminal.write("monitor \(reference) resumed\n")
            }
        }
    }

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a monitor now, outside its schedule.",
            discussion: "With --wait, prints the result and exits 1 unless the check was up.")

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        @Argument(help: "Id, NAMESPACE/NAME or NAME.")
        var monitor: MonitorReference

        @Flag(help: "Wait for the result.")
        var wait = false

        @Option(help: ArgumentHelp("How long to wait at most (default: the server's).", valueName: "duration"))
        var timeout: String?

        func run() throws {
            let client = try connection.client()
            var params = JSONObject.id(try monitor.id(using: client))
            if wait { params.append("wait", .bool(true)) }
            if let timeout { params.append("timeout_ms", .int(try Flags.duration(timeout, flag: "--timeout"))) }
            let answer = try client.call("monitor.run", params)
            let object = answer.objectValue ?? JSONObject()
            output.emit(answer) {
                if let result = object["result"]?.objectValue {
                    return Tables.results([result]).render(style: Terminal.statusStyle(column: 2))
                }
                return "queued job \(object["job_id"]?.displayText ?? "?") at \(Timestamp.short(object["queued_at"]?.stringValue))\n"
            }
            if wait, let status = object["result"]?.objectValue?["status"]?.stringValue, status != "up" {
                throw ExitCode(1)
            }
        }
    }
}

/// Runs `body` for each monitor, going on past failures; exits 1 if any failed.
func forEachMonitor(connection: ConnectionOptions, _ references: [MonitorReference],
                    _ body: (LineClient, Int64, String) throws -> Void) throws {
    let client = try connection.client()
    var failed = false
    for reference in references {
        do {
            try body(client, try reference.id(using: client), reference.text)
        } catch let failure as CLIFailure where failure.code == .failed {
            Terminal.error("\(reference.text): \(failure.message)")
            failed = true
        }
    }
    if failed { throw ExitCode(1) }
}
