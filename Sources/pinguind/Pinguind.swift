public import ArgumentParser
import Foundation
import PinguinModel
public import Logging
import PinguinPostgres
import PinguinRedis
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

@main
struct Pinguind: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pinguind",
        abstract: "The Pinguin uptime-monitoring daemon.",
        version: PinguinVersion.current,
        subcommands: [Run.self, Migrate.self, Check.self],
        defaultSubcommand: Run.self
    )

    static func main() async {
        // Writing to a dead plugin or a closed socket must be an error, not a death.
        signal(SIGPIPE, SIG_IGN)
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

/// Options every subcommand shares: where the database and Redis are.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: ArgumentHelp(
        "PostgreSQL connection string (URL or key=value).", discussion: "Default: $PINGUIN_DATABASE_URL."))
    var databaseURL: String?

    @Option(name: .customLong("redis-url"), help: ArgumentHelp(
        "Redis URL (redis://[:password@]host:port/db or unix:///path).", discussion: "Default: $PINGUIN_REDIS_URL."))
    var redisURL: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    func postgres() throws -> PostgresConfiguration {
        guard let url = databaseURL ?? ProcessInfo.processInfo.environment["PINGUIN_DATABASE_URL"] else {
            throw ValidationError("no database: pass --database-url or set PINGUIN_DATABASE_URL")
        }
        return try PostgresConfiguration(url)
    }

    func redis() throws -> RedisConfiguration {
        guard let url = redisURL ?? ProcessInfo.processInfo.environment["PINGUIN_REDIS_URL"] else {
            throw ValidationError("no Redis: pass --redis-url or set PINGUIN_REDIS_URL")
        }
        return try RedisConfiguration(url: url)
    }

    func makeLogger() -> Logger {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = logLevel
            return handler
        }
        return Logger(label: "pinguind")
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
