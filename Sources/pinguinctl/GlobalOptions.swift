import ArgumentParser
import Foundation
import PinguinWire
import PinguinctlKit

/// Where the server is: flags, then environment, then the config file, then the local socket.
struct ConnectionOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The control plane's Unix socket (default: $PINGUIN_SOCKET, the config file, else the local default).", valueName: "path"),
            completion: .file())
    var socket: String?

    @Option(help: ArgumentHelp("Use TCP instead (default: $PINGUIN_TCP); needs a token.", valueName: "host:port"))
    var tcp: String?

    @Option(help: ArgumentHelp("Token for TCP (default: $PINGUIN_TOKEN). Prefer --token-file: arguments show in `ps`.", valueName: "token"))
    var token: String?

    @Option(help: ArgumentHelp("Read the token from this file.", valueName: "path"), completion: .file())
    var tokenFile: String?

    @Option(name: .customLong("config-file"), help: ArgumentHelp("Connection config file (default: $PINGUIN_CONFIG, else ~/.config/pinguin/pinguinctl.yaml).", valueName: "path"),
            completion: .file())
    var configFile: String?

    @Flag(help: "Use TLS on TCP (default: $PINGUIN_TLS=1 or tls: true in the config file); the server's certificate is verified.")
    var tls = false

    @Option(name: .customLong("tls-ca-file"), help: ArgumentHelp(
        "PEM file of the CA (or the self-signed certificate) to verify the server with; implies --tls. Default: the system's CAs.",
        valueName: "path"), completion: .file())
    var tlsCAFile: String?

    @Option(name: .customLong("tls-server-name"), help: ArgumentHelp(
        "The name the server's certificate must carry, when it differs from the host connected to; implies --tls.", valueName: "name"))
    var tlsServerName: String?

    func settings() throws -> ConnectionSettings {
        let environment = ProcessInfo.processInfo.environment
        var file: ConfigFile?
        if let configFile {
            file = try ConfigFile.load(path: configFile, required: true)
        } else if let location = ConfigFile.location(environment: environment) {
            file = try ConfigFile.load(path: location.path, required: location.required)
        }
        return try ConnectionSettings.resolve(
            flags: .init(socket: socket, tcp: tcp, token: token, tokenFile: tokenFile, tls: tls, tlsCAFile: tlsCAFile, tlsServerName: tlsServerName),
            environment: environment, file: file, isRoot: getuid() == 0)
    }

    func client() throws -> LineClient {
        try LineClient.connect(settings())
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, wide, json, yaml
}

struct OutputOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "Output format: table, wide, json or yaml.")
    var output: OutputFormat = .table

    var wide: Bool { output == .wide }

    /// Prints `value` as JSON or YAML, or else the text `table` makes.
    func emit(_ value: JSONValue, table: () -> String) {
        switch output {
        case .json: Terminal.write(JSONPretty.string(value) + "\n")
        case .yaml: Terminal.write(YAMLBridge.string(value))
        case .table, .wide: Terminal.write(table())
        }
    }
}

/// A monitor named on the command line: its id, `namespace/name`, or a name in the default namespace.
struct MonitorReference: ExpressibleByArgument {
    var text: String

    init?(argument: String) {
        guard !argument.isEmpty else { return nil }
        text = argument
    }

    func id(using client: some RPCCalling) throws -> Int64 {
        if let id = Int64(text), id > 0 { return id }
        let key: MonitorKey
        if let slash = text.firstIndex(of: "/") {
            key = MonitorKey(namespace: String(text[..<slash]), name: String(text[text.index(after: slash)...]))
        } else {
            key = MonitorKey(namespace: Manifest.defaultNamespace, name: text)
        }
        let matches = try client.allMonitors(namespace: key.namespace, filters: JSONObject(["text": .string(key.name)]))
            .filter { $0["name"]?.stringValue == key.name }
        guard let id = matches.first?["id"]?.int64Value else {
            throw CLIFailure("no monitor \(key) [not_found]", code: .failed, kind: "not_found")
        }
        return id
    }
}

extension JSONObject {
    /// `{"id": id}`, the params of most per-object methods.
    static func id(_ id: Int64) -> JSONObject { JSONObject(["id": .int(id)]) }
}

/// Parsing helpers shared by the commands' flags.
enum Flags {
    static func duration(_ text: String, flag: String) throws -> Int64 {
        guard let milliseconds = DurationText.milliseconds(text) else {
            throw CLIFailure.usage("\(flag): \(text.debugDescription) is not a duration (write 500ms, 30s, 1m, 1h)")
        }
        return milliseconds
    }

    static func time(_ text: String, flag: String) throws -> String {
        guard let time = Timestamp.parse(text, now: Timestamp.nowMilliseconds) else {
            throw CLIFailure.usage("\(flag): \(text.debugDescription) is neither an RFC 3339 time nor a duration ago (1h, 7d)")
        }
        return time
    }

    static func jsonObject(_ text: String, flag: String) throws -> JSONObject {
        do {
            let value = try JSONParser.parse(text)
            guard let object = value.objectValue else { throw CLIFailure.usage("\(flag) must be a JSON object") }
            return object
        } catch let failure as CLIFailure {
            throw failure
        } catch {
            throw CLIFailure.usage("\(flag): \(error)")
        }
    }

    /// `key=value` pairs into an object; values that parse as JSON (numbers, true, arrays) keep their type.
    static func assignments(_ pairs: [String], into object: JSONObject, flag: String) throws -> JSONObject {
        var result = object
        for pair in pairs {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw CLIFailure.usage("\(flag) takes key=value, not \(pair)")
            }
            let key = String(pair[..<equals])
            let text = String(pair[pair.index(after: equals)...])
            let value = (try? JSONParser.parse(text)) ?? .string(text)
            result = result.setting(key, value)
        }
        return result
    }

    /// Every page of a `*.list` method whose answer holds `key` and `next`.
    static func listAll(_ client: some RPCCalling, method: String, key: String, params: JSONObject) throws -> [JSONObject] {
        var items: [JSONObject] = []
        var after: JSONValue = .null
        repeat {
            var page = params
            if after != .null { page = page.setting("after", after) }
            let answer = try client.call(method, page).objectValue ?? JSONObject()
            items += (answer[key]?.arrayValue ?? []).compactMap(\.objectValue)
            after = answer["next"] ?? .null
        } while after != .null
        return items
    }
}
