import ArgumentParser
import Foundation
import Logging
import PinguinPostgres
import PinguinRedis

/// `pinguind check`: connects to PostgreSQL and Redis once and reports what it found.
struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that PostgreSQL and Redis are reachable, print their versions, and exit (status 1 if not)."
    )

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let logger = connection.makeLogger()
        let report = await Connectivity.probe(postgres: try connection.postgres(), redis: try connection.redis(), logger: logger)
        print(report.postgres)
        print(report.redis)
        if !report.healthy { throw ExitCode.failure }
    }
}

/// One look at both servers.
enum Connectivity {
    struct Report {
        var postgres: String
        var redis: String
        var healthy: Bool
        var redisReachable = true
    }

    static func probe(postgres: PostgresConfiguration, redis: RedisConfiguration, logger: Logger) async -> Report {
        var healthy = true
        let postgresLine: String
        do {
            let connection = try await PostgresConnection.connect(configuration: postgres, logger: logger)
            let rows = try await connection.query("SELECT current_setting('server_version')")
            postgresLine = "postgresql: ok, \(postgres), server \(try rows[0].decode(String.self, column: 0))"
            await connection.close()
        } catch {
            healthy = false
            postgresLine = "postgresql: failed, \(error)"
        }
        let redisLine: String
        var redisReachable = true
        do {
            let connection = try await RedisConnection.connect(configuration: redis, logger: logger)
            let info = try await connection.send(RedisCommand("INFO", "server")).string ?? ""
            let version = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("redis_version:") }
                .map { String($0.dropFirst("redis_version:".count)) } ?? "unknown"
            redisLine = "redis: ok, \(redis), server \(version)"
            await connection.close()
        } catch {
            healthy = false
            redisReachable = false
            redisLine = "redis: failed, \(error)"
        }
        return Report(postgres: postgresLine, redis: redisLine, healthy: healthy, redisReachable: redisReachable)
    }
}
