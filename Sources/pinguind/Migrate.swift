import ArgumentParser
import Foundation
import Logging
import PinguinPostgres
import PinguinStore

/// `pinguind migrate up|down|status`.
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply, revert or list database migrations.",
        discussion: "pinguind run applies pending migrations at start-up; this command does it by hand.",
        subcommands: [Up.self, Down.self, Status.self],
        defaultSubcommand: Status.self
    )

    struct Up: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply pending migrations (all, or up to --to).")
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "Stop after this version.") var to: Int?

        func run() async throws {
            let (runner, client) = try connection.migrationRunner()
            let applied = try await runner.up(to: to)
            print(applied.isEmpty ? "nothing to apply" : "applied: \(applied.map(String.init).joined(separator: ", "))")
            await client.close()
        }
    }

    struct Down: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revert the newest migration, or every one above --to.")
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "Revert down to this version (0 reverts everything).") var to: Int?

        func run() async throws {
            let (runner, client) = try connection.migrationRunner()
            var target = to
            if target == nil { target = max(0, try await runner.currentVersion() - 1) }
            let reverted = try await runner.down(to: target!)
            print(reverted.isEmpty ? "nothing to revert" : "reverted: \(reverted.map(String.init).joined(separator: ", "))")
            await client.close()
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List migrations and whether each is applied.")
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let (runner, client) = try connection.migrationRunner()
            let formatter = ISO8601DateFormatter()
            for entry in try await runner.status() {
                let state = entry.appliedAt.map { "applied \(formatter.string(from: $0))" } ?? "pending"
                let remark = entry.unknown ? " (unknown to this pinguind)" : entry.changed ? " (CHANGED since it was applied)" : ""
                print("\(entry.version)\t\(state)\t\(entry.name)\(remark)")
            }
            await client.close()
        }
    }
}

extension ConnectionOptions {
    func migrationRunner() throws -> (MigrationRunner, PostgresClient) {
        let logger = makeLogger()
        let client = PostgresClient(try postgres(), logger: logger)
        return (MigrationRunner(client: client, logger: logger), client)
    }
}
