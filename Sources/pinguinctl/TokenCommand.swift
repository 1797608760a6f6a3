import ArgumentParser
import Foundation
import PinguinWire
import PinguinctlKit

struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "API tokens for TCP clients.",
        subcommands: [Create.self, List.self, Revoke.self],
        aliases: ["tokens"]
    )

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a token and print its secret, once.",
            discussion: "The secret goes to stdout alone (or in the -o json/yaml object) so that it can be piped into a file: pinguinctl token create ci --scope read > ci.token",
            aliases: ["add"])

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        @Argument(help: "A name to tell it apart.")
        var name: String

        @Option(help: "read, write or admin.")
        var scope: String

        @Option(help: ArgumentHelp("When it stops working: RFC 3339, or a duration from now (30d).", valueName: "time"))
        var expires: String?

        func run() throws {
            var params = JSONObject(["name": .string(name), "scope": .string(scope)])
            if let expires {
                if let ahead = DurationText.milliseconds(expires) {
                    params.append("expires_at", .string(Timestamp.rfc3339(milliseconds: Timestamp.nowMilliseconds + ahead)))
                } else if Timestamp.milliseconds(rfc3339: expires) != nil {
                    params.append("expires_at", .string(expires))
                } else {
                    throw CLIFailure.usage("--expires: \(expires.debugDescription) is neither an RFC 3339 time nor a duration")
                }
            }
            let token = try connection.client().call("token.create", params)
            FileHandle.standardError.write(Data("Token \(name) (\(scope)) created. Store it now: it is not shown again.\n".utf8))
            output.emit(token) { (token.objectValue?["token"]?.stringValue ?? "") + "\n" }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List tokens (never their secrets).", aliases: ["list"])

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            let answer = try connection.client().call("token.list")
            let tokens = (answer.objectValue?["tokens"]?.arrayValue ?? []).compactMap(\.objectValue)
            output.emit(.array(tokens.map(JSONValue.object))) { Tables.tokens(tokens).render() }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke tokens at once.", aliases: ["rm", "delete"])

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "Token ids.")
        var ids: [Int64]

        func run() throws {
            try deleteAll(connection: connection, method: "token.revoke", noun: "token", ids: ids, verb: "revoked")
        }
    }
}
