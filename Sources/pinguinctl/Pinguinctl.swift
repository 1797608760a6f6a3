import ArgumentParser
import Foundation
import PinguinWire

#if canImport(Glibc)
import Glibc
#endif

/// The admin CLI, speaking the control plane's JSON-RPC. Built so far: `call` (any method) and
/// `status`; the noun subcommands (monitor, results, uptime…) come with the control plane issue.
@main
struct Pinguinctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pinguinctl",
        abstract: "Administer Pinguin through its JSON-RPC control plane.",
        discussion: "Exit status: 0 success, 1 the server answered with an error (or status found a problem), 2 usage error, 3 cannot reach the server.",
        version: "0.1.0-dev",
        subcommands: [Call.self, Status.self]
    )

    static func main() {
        signal(SIGPIPE, SIG_IGN)
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let failure as CLIFailure {
            FileHandle.standardError.write(Data(("pinguinctl: " + failure.message + "\n").utf8))
            Foundation.exit(failure.status)
        } catch {
            exit(withError: error)
        }
    }
}

/// An error to print in one line, with the exit status scripts can rely on.
struct CLIFailure: Error {
    var message: String
    var status: Int32
}

/// Where the server is: the Unix socket (default) or TCP with a token.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "The control plane's Unix socket (default: $PINGUIN_SOCKET, else /run/pinguin/pinguind.sock).")
    var socket: String?

    @Option(help: "Use TCP instead: HOST:PORT (default: $PINGUIN_TCP). Needs --token.")
    var tcp: String?

    @Option(help: "Token for TCP (default: $PINGUIN_TOKEN). Prefer the variable: arguments show in `ps`.")
    var token: String?

    func client() throws -> LineClient {
        let environment = ProcessInfo.processInfo.environment
        if let address = tcp ?? environment["PINGUIN_TCP"] {
            guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else {
                throw CLIFailure(message: "--tcp must be HOST:PORT, not \(address)", status: 2)
            }
            guard let secret = token ?? environment["PINGUIN_TOKEN"] else {
                throw CLIFailure(message: "TCP needs a token: set PINGUIN_TOKEN or pass --token", status: 2)
            }
            let client = try LineClient(tcpHost: String(address[..<colon]), port: port)
            _ = try client.call("auth", params: .object(JSONObject(["token": .string(secret)])))
            return client
        }
        let path = socket ?? environment["PINGUIN_SOCKET"] ?? "/run/pinguin/pinguind.sock"
        return try LineClient(unixSocket: path)
    }
}

struct Call: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Call any JSON-RPC method and print its result as JSON.",
        discussion: "Example: pinguinctl call monitor.get '{\"id\":1}'")

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The method, e.g. system.health.")
    var method: String

    @Argument(help: "Named parameters as a JSON object (default: none).")
    var params: String?

    func run() throws {
        var parameters = JSONValue.object(JSONObject())
        if let params {
            do {
                parameters = try JSONParser.parse(params)
            } catch {
                throw CLIFailure(message: "params: \(error)", status: 2)
            }
            guard parameters.objectValue != nil || parameters.arrayValue != nil else {
                throw CLIFailure(message: "params must be a JSON object or array", status: 2)
            }
        }
        let result = try connection.client().call(method, params: parameters)
        print(JSONWriter.string(result))
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Say whether Pinguin and its PostgreSQL and Redis are healthy (exit 1 if not).")

    @OptionGroup var connection: ConnectionOptions

    func run() throws {
        let health = try connection.client().call("system.health", params: .object(JSONObject()))
        let object = health.objectValue ?? JSONObject()
        let healthy = object["healthy"]?.boolValue ?? false
        print("healthy: \(healthy ? "yes" : "no")")
        print("roles: \((object["roles"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ", "))")
        for key in ["postgresql", "redis"] {
            print("\(key): \(object[key]?.stringValue ?? "?")")
        }
        if let engine = object["storage"]?.objectValue?["engine"]?.stringValue { print("storage: \(engine)") }
        if !healthy { throw ExitCode.failure }
    }
}
