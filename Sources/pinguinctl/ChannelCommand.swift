import ArgumentParser
import Foundation
import PinguinWire
import PinguinctlKit

struct ChannelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "channel",
        abstract: "Notification channels: where alerts go.",
        subcommands: [Add.self, List.self, Get.self, Edit.self, Test.self, Remove.self],
        aliases: ["channels"]
    )

    /// Flags shared by add and edit.
    struct Fields: ParsableArguments {
        @Option(help: ArgumentHelp("Settings as a JSON object (replaces them).", valueName: "json"))
        var config: String?

        @Option(name: .customLong("set"), help: ArgumentHelp("One setting, key=value (repeatable).", valueName: "key=value"))
        var settings: [String] = []

        @Option(name: .customLong("secret"), help: ArgumentHelp("A secret from a file, key=@path (or key=@- for stdin); key=value works but shows in `ps`.", valueName: "key=@path"))
        var secrets: [String] = []

        @Option(name: .customLong("secret-env"), help: ArgumentHelp("A secret from an environment variable, key=VARIABLE.", valueName: "key=VAR"))
        var secretEnvironment: [String] = []

        @Option(name: .customLong("monitor"), help: "Only alert for these monitors (repeatable; default: all).")
        var monitors: [MonitorReference] = []

        @Option(help: ArgumentHelp("Whether alerts are sent (true/false).", valueName: "bool"))
        var enabled: Bool?

        func params(client: LineClient, currentConfig: JSONObject?) throws -> JSONObject {
            var params = JSONObject()
            if config != nil || !settings.isEmpty {
                var object = try config.map { try Flags.jsonObject($0, flag: "--config") } ?? currentConfig ?? JSONObject()
                object = try Flags.assignments(settings, into: object, flag: "--set")
                params.append("config", .object(object))
            }
            let secretValues = try self.secretValues()
            if secretValues.count > 0 { params.append("secrets", .object(secretValues)) }
            if !monitors.isEmpty { params.append("monitor_ids", .array(try monitors.map { .int(try $0.id(using: client)) })) }
            if let enabled { params.append("enabled", .bool(enabled)) }
            return params
        }

        /// Secrets read from files, stdin or the environment, so that they need not be in argv.
        func secretValues() throws -> JSONObject {
            var values = JSONObject()
            let environment = ProcessInfo.processInfo.environment
            for pair in secrets {
                guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                    throw CLIFailure.usage("--secret takes key=@path, not \(pair.prefix(while: { $0 != "=" }))…")
                }
                let key = String(pair[..<equals])
                let value = String(pair[pair.index(after: equals)...])
                if value == "@-" {
                    let text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
                    values.append(key, .string(text.trimmingCharacters(in: .whitespacesAndNewlines)))
                } else if value.hasPrefix("@") {
                    let path = String(value.dropFirst())
                    guard let data = FileManager.default.contents(atPath: path) else {
                        throw CLIFailure.usage("--secret \(key): cannot read \(path)")
                    }
                    values.append(key, .string(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
                } else {
                    Terminal.warn("--secret \(key)=… puts the secret in the process list; prefer \(key)=@file or --secret-env")
                    values.append(key, .string(value))
                }
            }
            for pair in secretEnvironment {
                guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                    throw CLIFailure.usage("--secret-env takes key=VARIABLE, not \(pair)")
                }
                let key = String(pair[..<equals])
                let variable = String(pair[pair.index(after: equals)...])
                guard let value = environment[variable], !value.isEmpty else {
                    throw CLIFailure.usage("--secret-env \(key): $\(variable) is not set")
                }
                values.append(key, .string(value))
            }
            return values
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a channel.",
            discussion: """
            Kinds: webhook, slack, discord, teams, telegram, ntfy, gotify, pagerduty, email, exec.
            Example: pinguinctl channel add ops --kind telegram --set chat_id=42 --secret bot_token=@/etc/pinguin/telegram-token
            """,
            aliases: ["create"])

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        @Argument(help: "The channel's name.")
        var name: String

        @Option(name: .shortAndLong, help: "Namespace (default: default).")
        var namespace: String?

        @Option(help: "webhook, slack, discord, teams, telegram, ntfy, gotify, pagerduty, email or exec.")
        var kind: String

        @OptionGroup var fields: Fields

        func run() throws {
            let client = try connection.client()
            var params = JSONObject()
            params.append("name", .string(name))
            params.append("kind", .string(kind))
            if let namespace { params.append("namespace", .string(namespace)) }
            let rest = try fields.params(client: client, currentConfig: nil)
            for index in 0..<rest.count { params.append(rest.keys[index], rest.values[index]) }
            if params["config"] == nil { params.append("config", .object(JSONObject())) }
            let channel = try client.call("channel.create", params)
            output.emit(channel) { "channel \(name) created (id \(channel.objectValue?["id"]?.displayText ?? "?"))\n" }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List channels.", aliases: ["list"])

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        @Option(name: .shortAndLong, help: "Only this namespace.")
        var namespace: String?

        @Option(help: "Only this kind.")
        var kind: String?

        func run() throws {
            var params = JSONObject()
            if let namespace { params.append("namespace", .string(namespace)) }
            if let kind { params.append("kind", .string(kind)) }
            let channels = try Flags.listAll(try connection.client(), method: "channel.list", key: "channels", params: params)
            output.emit(.array(channels.map(JSONValue.object))) { Tables.channels(channels).render() }
        }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one channel (secrets by name only).")

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        @Argument(help: "The channel's id.")
        var id: Int64

        func run() throws {
            let channel = try connection.client().call("channel.get", .id(id))
            output.emit(channel) { Tables.details(channel.objectValue ?? JSONObject()) }
        }
    }

    struct Edit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change some fields of a channel.",
            discussion: "--set changes one setting and keeps the others; --secret and --secret-env replace the secrets named.",
            aliases: ["update"])

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        @Argument(help: "The channel's id.")
        var id: Int64

        @Option(help: "A new name.")
        var name: String?

        @OptionGroup var fields: Fields

        func run() throws {
            let client = try connection.client()
            var currentConfig: JSONObject?
            if fields.config == nil && !fields.settings.isEmpty {
                currentConfig = try client.call("channel.get", .id(id)).objectValue?["config"]?.objectValue
            }
            var params = JSONObject.id(id)
            if let name { params.append("name", .string(name)) }
            let rest = try fields.params(client: client, currentConfig: currentConfig)
            guard rest.count > 0 || name != nil else { throw CLIFailure.usage("nothing to change: give --set, --secret, --monitor, --enabled or --name") }
            for index in 0..<rest.count { params.append(rest.keys[index], rest.values[index]) }
            let channel = try client.call("channel.update", params)
            output.emit(channel) { "channel \(id) updated\n" }
        }
    }

    struct Test: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send a test notification through a channel now, and say whether it arrived.",
            discussion: "Exits 1 with the receiver's answer when it did not (see `pinguinctl notifications ls` for the outbox).")

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        @Argument(help: "The channel's id.")
        var id: Int64

        @Option(help: "The text to send.")
        var message: String?

        func run() throws {
            var params = JSONObject.id(id)
            if let message { params.append("message", .string(message)) }
            let answer = try connection.client().call("channel.test", params)
            output.emit(answer) {
                let code = answer.objectValue?["code"].flatMap { $0 == .null ? nil : $0.displayText }
                let duration = answer.objectValue?["duration_ms"]?.displayText ?? "?"
                return "channel \(id): test notification delivered\(code.map { " (\($0))" } ?? "") in \(duration) ms\n"
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete channels.", aliases: ["delete"])

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "Channel ids.")
        var ids: [Int64]

        func run() throws {
            try deleteAll(connection: connection, method: "channel.delete", noun: "channel", ids: ids)
        }
    }
}

/// Calls `method` for each id, going on past failures; exits 1 if any failed.
func deleteAll(connection: ConnectionOptions, method: String, noun: String, ids: [Int64], verb: String = "deleted") throws {
    let client = try connection.client()
    var failed = false
    for id in ids {
        do {
            _ = try client.call(method, .id(id))
            Terminal.write("\(noun) \(id) \(verb)\n")
        } catch let failure as CLIFailure where failure.code == .failed {
            Terminal.error("\(noun) \(id): \(failure.message)")
            failed = true
        }
    }
    if failed { throw ExitCode(1) }
}
