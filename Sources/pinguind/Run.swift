import ArgumentParser
import Foundation
import Logging
import PinguinPostgres
import PinguinRedis
import ServiceLifecycle

/// `pinguind run` (the default): starts the daemon in the foreground until SIGTERM or SIGINT.
///
/// Today it holds its PostgreSQL pool and Redis connections and watches both; the scheduler,
/// supervisor, ingester and control-plane roles join this service group as they are built.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the daemon in the foreground (the default).")

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Seconds between connectivity checks of PostgreSQL and Redis.")
    var healthInterval: Double = 10

    func run() async throws {
        let logger = connection.makeLogger()
        let postgresConfiguration = try connection.postgres()
        let redisConfiguration = try connection.redis()
        let watcher = ConnectivityWatcher(
            postgres: postgresConfiguration, redis: redisConfiguration,
            interval: .milliseconds(Int64(healthInterval * 1000)), logger: logger)
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: watcher)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        logger.info("pinguind starting", metadata: [
            "pinguin.version": "\(PinguinVersion.current)", "db.target": "\(postgresConfiguration)",
            "redis.target": "\(redisConfiguration)",
        ])
        try await group.run()
        logger.info("pinguind stopped")
    }
}

/// Checks both servers periodically and logs every change between reachable and unreachable.
struct ConnectivityWatcher: Service {
    let postgres: PostgresConfiguration
    let redis: RedisConfiguration
    let interval: Duration
    let logger: Logger

    func run() async throws {
        var lastHealthy: Bool?
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let report = await Connectivity.probe(postgres: postgres, redis: redis, logger: logger)
            if report.healthy != lastHealthy {
                let metadata: Logger.Metadata = ["db.status": "\(report.postgres)", "redis.status": "\(report.redis)"]
                if report.healthy {
                    logger.info("storage reachable", metadata: metadata)
                } else {
                    logger.error("storage unreachable", metadata: metadata)
                }
                lastHealthy = report.healthy
            }
            try? await gracefulShutdownSleep(for: interval)
        }
    }

    private func gracefulShutdownSleep(for duration: Duration) async throws {
        try await cancelWhenGracefulShutdown {
            try await Task.sleep(for: duration)
        }
    }
}
