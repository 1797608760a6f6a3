import ArgumentParser
import Foundation
import PinguinctlKit

#if canImport(Glibc)
import Glibc
#endif

/// The admin CLI, speaking the control plane's JSON-RPC: one subcommand per noun.
@main
struct Pinguinctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pinguinctl",
        abstract: "Administer Pinguin through its JSON-RPC control plane.",
        discussion: """
        Connection: --socket, --tcp HOST:PORT with a token (--token-file, $PINGUIN_TOKEN), else \
        $PINGUIN_SOCKET / $PINGUIN_TCP, else the config file ($PINGUIN_CONFIG or \
        ~/.config/pinguin/pinguinctl.yaml: socket, tcp, token_file), else the local socket.

        Output: tables for people; -o json or -o yaml for scripts.

        Exit status: 0 success, 1 the server answered with an error (or apply/status found a \
        problem), 2 usage or input-file error, 3 cannot reach the server, 4 apply --dry-run \
        --exit-code found changes.

        Shell completions: pinguinctl --generate-completion-script bash|zsh|fish
        """,
        version: "0.1.0-dev",
        subcommands: [
            MonitorCommand.self, ResultsCommand.self, UptimeCommand.self, IncidentsCommand.self, NotificationsCommand.self,
            ChannelCommand.self, MaintenanceCommand.self, TokenCommand.self, PluginsCommand.self,
            StatusCommand.self, WatchCommand.self, ApplyCommand.self, ExportCommand.self, CallCommand.self,
        ]
    )

    static func main() {
        signal(SIGPIPE, SIG_IGN)
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let failure as CLIFailure {
            fail(failure)
        } catch {
            // ArgumentParser's own errors keep its messages; usage errors exit 2 like ours.
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(CLIFailure.Code.usage.rawValue)
            }
            exit(withError: error)
        }
    }

    static func fail(_ failure: CLIFailure) -> Never {
        Terminal.error(failure.message)
        Foundation.exit(failure.status)
    }
}
