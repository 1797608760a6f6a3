import ArgumentParser
import Foundation
import Logging
import PinguinControlPlane
import PinguinModel
import PinguinIngester
import PinguinNotify
import PinguinPostgres
import PinguinRedis
import PinguinScheduler
import PinguinPluginHost
import PinguinSupervisor
import PinguinStore
import ServiceLifecycle

/// `pinguind run` (the default): starts the daemon in the foreground until SIGTERM or SIGINT.
///
/// Applies pending migrations, then runs the chosen roles in one service group. Built so far:
/// the ingester; the scheduler, supervisor and control plane join as they are built.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the daemon in the foreground (the default).")

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Seconds between connectivity checks of PostgreSQL and Redis.")
    var healthInterval: Double = 10

    @Option(help: ArgumentHelp("Roles to run, comma-separated: control, scheduler, supervisor, ingester.", discussion: "Default: all of them. A process with only the supervisor role needs no PostgreSQL."))
    var roles: String = "control,ingester,scheduler,supervisor"

    @Option(help: ArgumentHelp(
        "Control plane: the Unix socket's path.",
        discussion: "Default: $PINGUIN_SOCKET, else /run/pinguin/pinguind.sock for root, else $XDG_RUNTIME_DIR/pinguin/pinguind.sock."))
    var rpcSocket: String?

    @Option(name: .customLong("rpc-tcp"), help: ArgumentHelp(
        "Control plane: TCP address HOST:PORT, or off.",
        discussion: "Clients must call auth with a token first. Binding beyond loopback exposes the API to the network."))
    var rpcTCP: String = "127.0.0.1:7420"

    @Option(name: .customLong("rpc-allow-uid"), help: ArgumentHelp(
        "Control plane: a user id allowed on the Unix socket (repeatable).",
        discussion: "Checked with SO_PEERCRED on top of the socket's permissions (0660, folder 0750). Root and pinguind's own user are always allowed. Default: whoever the permissions let in."))
    var rpcAllowUID: [UInt32] = []

    @Option(name: .customLong("rpc-tls-cert"), help: ArgumentHelp(
        "Control plane: PEM certificate chain for TLS on the TCP listener.", discussion: "Needs --rpc-tls-key. Default: plain TCP."))
    var rpcTLSCert: String?

    @Option(name: .customLong("rpc-tls-key"), help: "Control plane: PEM private key for --rpc-tls-cert.")
    var rpcTLSKey: String?

    @Option(name: .customLong("rpc-idle-timeout"), help: "Control plane: seconds before an idle connection (nothing in flight, no subscription) is closed.")
    var rpcIdleTimeout: Double = 300

    @Option(help: ArgumentHelp("Scheduler: seconds the leader's lease lasts without renewal.", discussion: "A dead leader is replaced within this time. Renewed every fifth of it."))
    var schedulerLease: Double = 5

    @Option(help: "Scheduler: most monitors one dispatch call takes.")
    var schedulerBatchSize: Int = 500

    @Option(name: .customLong("plugin-dir"), help: ArgumentHelp(
        "Supervisor: a folder of pinguin-check-* plugin executables (repeatable; the first folder wins for a name).",
        discussion: "Default: the folder of the pinguind executable, then /usr/local/lib/pinguin/plugins and /usr/lib/pinguin/plugins."))
    var pluginDirectories: [String] = []

    @Option(name: .customLong("nagios-plugin-dir"), help: ArgumentHelp(
        "Supervisor: a folder whose check_* programs monitors of kind nagios may run (repeatable).",
        discussion: "Default: /usr/lib/nagios/plugins and /usr/lib/monitoring-plugins."))
    var nagiosDirectories: [String] = []

    @Option(help: "Supervisor: this supervisor's location tag; jobs of monitors limited to other locations are handed on.")
    var location: String = "default"

    @Option(name: .customLong("supervisor-id"), help: "Supervisor: its id in registrations and results (default sv-HOST-PID).")
    var supervisorID: String?

    @Option(name: .customLong("supervisor-max-in-flight"), help: "Supervisor: most checks running at once.")
    var supervisorMaxInFlight: Int = 4096

    @Option(name: .customLong("plugin-max-processes"), help: "Supervisor: most processes per plugin (more start while all are at their declared concurrency).")
    var pluginMaxProcesses: Int = 4

    @Option(name: .customLong("plugin-user"), help: "Supervisor: run plugins as this unprivileged user (needs root).")
    var pluginUser: String?

    @Option(name: .customLong("plugin-memory-limit-mb"), help: "Supervisor: address-space limit per plugin process, in MiB.")
    var pluginMemoryLimit: Int64?

    @Option(name: .customLong("plugin-open-files-limit"), help: "Supervisor: open-file limit per plugin process.")
    var pluginOpenFiles: Int64?

    @Option(name: .customLong("supervisor-claim-idle"), help: "Supervisor: seconds after which jobs held by a supervisor that stopped refreshing them are claimed by another.")
    var supervisorClaimIdle: Double = 30

    @Option(help: "Ingester: parallel read-write loops.")
    var ingesterWorkers: Int = 2

    @Option(help: "Ingester: most results per database transaction.")
    var ingesterBatchSize: Int = 20_000

    @Option(help: "Days of raw results to keep (older daily partitions are dropped).")
    var resultRetentionDays: Int = 31

    @Flag(inversion: .prefixedNo, help: "Ingester: send the notifications in the outbox (off: other ingesters send them).")
    var notifications = true

    @Flag(help: "Do not apply pending migrations at start-up (fail if any is pending).")
    var noMigrate = false

    func run() async throws {
        let logger = connection.makeLogger()
        let postgresConfiguration = try connection.postgres()
        let redisConfiguration = try connection.redis()
        let watcher = ConnectivityWatcher(
            postgres: postgresConfiguration, redis: redisConfiguration,
            interval: .milliseconds(Int64(healthInterval * 1000)), logger: logger)
        let chosen = Set(roles.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        let known: Set<String> = ["control", "ingester", "scheduler", "supervisor"]
        guard chosen.isSubset(of: known), !chosen.isEmpty else {
            throw ValidationError("--roles: unknown role(s) \(chosen.subtracting(known).sorted().joined(separator: ", ")); known: \(known.sorted().joined(separator: ", "))")
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if chosen.contains("supervisor") {
            services.append(.init(service: try makeSupervisor(redis: redisConfiguration, logger: logger)))
        }
        guard !chosen.isDisjoint(with: ["control", "ingester", "scheduler"]) else {
            // A supervisor alone talks to Redis only.
            let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            logger.info("pinguind starting", metadata: ["pinguin.roles": "supervisor", "pinguin.version": "\(PinguinVersion.current)", "redis.target": "\(redisConfiguration)"])
            try await group.run()
            logger.info("pinguind stopped")
            return
        }
        var postgresOptions = PostgresClient.Configuration()
        postgresOptions.maximumConnections = max(4, ingesterWorkers + 3)
        postgresOptions.connectRetryTimeout = .seconds(30)
        let postgres = PostgresClient(postgresConfiguration, configuration: postgresOptions, logger: logger)
        let migrations = MigrationRunner(client: postgres, logger: logger)
        if noMigrate {
            let pending = try await migrations.status().filter { $0.appliedAt == nil }
            guard pending.isEmpty else {
                throw ValidationError("migrations \(pending.map { String($0.version) }.joined(separator: ", ")) are pending; run pinguind migrate up")
            }
        } else {
            try await migrations.up()
        }
        services.append(.init(service: watcher))
        if chosen.contains("ingester") {
            var redisOptions = RedisClient.Configuration()
            redisOptions.maximumConnections = ingesterWorkers + 2
            let redis = RedisClient(redisConfiguration, configuration: redisOptions, logger: logger)
            let (storage, _) = try await Storage.open(client: postgres, logger: logger)
            var configuration = Ingester.Configuration()
            configuration.workers = ingesterWorkers
            configuration.batchSize = ingesterBatchSize
            configuration.retention.resultDays = resultRetentionDays
            configuration.retention.minuteRollupDays = resultRetentionDays
            let dispatcher = notifications
                ? OutboxDispatcher(configuration: OutboxDispatcher.Configuration(), store: OutboxStore(client: postgres), logger: logger) : nil
            services.append(.init(service: Ingester(
                configuration: configuration, redis: redis, storage: storage,
                rejects: RejectedResultStore(client: postgres), logger: logger, notifications: dispatcher,
                maintenanceWindows: { try await MaintenanceCalendar.load(client: postgres) })))
        }
        if chosen.contains("scheduler") {
            guard schedulerLease >= 1 else { throw ValidationError("--scheduler-lease must be at least 1 second") }
            guard (1...10_000).contains(schedulerBatchSize) else { throw ValidationError("--scheduler-batch-size must be 1 to 10000") }
            var configuration = Scheduler.Configuration()
            configuration.lease = .milliseconds(Int64(schedulerLease * 1000))
            configuration.renewInterval = .milliseconds(Int64(schedulerLease * 200))
            configuration.batchSize = schedulerBatchSize
            let redis = RedisClient(redisConfiguration, logger: logger)
            services.append(.init(service: Scheduler(configuration: configuration, postgres: postgres, redis: redis, logger: logger)))
        }
        if chosen.contains("control") {
            var configuration = ControlPlaneServer.Configuration()
            configuration.unixSocketPath = try socketPath()
            configuration.allowedUnixUserIDs = rpcAllowUID.isEmpty ? nil : Set(rpcAllowUID)
            if rpcTCP == "off" {
                configuration.tcpHost = nil
            } else {
                guard let colon = rpcTCP.lastIndex(of: ":"), let port = Int(rpcTCP[rpcTCP.index(after: colon)...]),
                      (0...65535).contains(port), colon > rpcTCP.startIndex
                else {
                    throw ValidationError("--rpc-tcp must be HOST:PORT or off, not \(rpcTCP)")
                }
                configuration.tcpHost = String(rpcTCP[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
                configuration.tcpPort = port
            }
            switch (rpcTLSCert, rpcTLSKey) {
            case (let certificate?, let key?):
                configuration.tls = TLSFiles(certificateChain: certificate, privateKey: key)
            case (nil, nil):
                break
            default:
                throw ValidationError("--rpc-tls-cert and --rpc-tls-key go together")
            }
            guard rpcIdleTimeout > 0 else { throw ValidationError("--rpc-idle-timeout must be positive") }
            configuration.idleTimeout = .milliseconds(Int64(rpcIdleTimeout * 1000))
            let hub = EventHub(redis: redisConfiguration, logger: logger)
            let redis = RedisClient(redisConfiguration, logger: logger)
            let router = try ControlMethods.router(
                roles: chosen.sorted(), postgres: postgresConfiguration, redis: redisConfiguration, client: postgres,
                redisClient: redis, hub: hub, logger: logger)
            services.append(.init(service: hub))
            services.append(.init(service: try ControlPlaneServer(configuration: configuration, router: router, logger: logger)))
        }
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        logger.info("pinguind starting", metadata: [
            "pinguin.roles": "\(chosen.sorted().joined(separator: ","))",
            "pinguin.version": "\(PinguinVersion.current)", "db.target": "\(postgresConfiguration)",
            "redis.target": "\(redisConfiguration)",
        ])
        try await group.run()
        logger.info("pinguind stopped")
    }
}

extension Run {
    func makeSupervisor(redis: RedisConfiguration, logger: Logger) throws -> Supervisor {
        var configuration = Supervisor.Configuration()
        if let supervisorID { configuration.id = supervisorID }
        guard (1...64).contains(location.utf8.count), !location.contains(","), !location.contains(" ") else {
            throw ValidationError("--location must be 1 to 64 bytes without commas or spaces")
        }
        configuration.location = location
        let executableFolder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
        configuration.pluginDirectories = pluginDirectories.isEmpty
            ? [executableFolder, "/usr/local/lib/pinguin/plugins", "/usr/lib/pinguin/plugins"].filter { FileManager.default.fileExists(atPath: $0) }
            : pluginDirectories
        if !nagiosDirectories.isEmpty { configuration.nagiosDirectories = nagiosDirectories }
        guard (1...1_000_000).contains(supervisorMaxInFlight) else { throw ValidationError("--supervisor-max-in-flight must be 1 to 1000000") }
        configuration.maximumInFlight = supervisorMaxInFlight
        guard (1...64).contains(pluginMaxProcesses) else { throw ValidationError("--plugin-max-processes must be 1 to 64") }
        configuration.pool.maximumProcesses = pluginMaxProcesses
        guard supervisorClaimIdle >= 1 else { throw ValidationError("--supervisor-claim-idle must be at least 1 second") }
        configuration.claimIdle = .milliseconds(Int64(supervisorClaimIdle * 1000))
        if let pluginUser {
            do {
                configuration.pluginUser = try SpawnedProcess.User(named: pluginUser)
            } catch {
                throw ValidationError("--plugin-user: \(error)")
            }
        }
        configuration.pluginLimits.addressSpaceBytes = pluginMemoryLimit.map { $0 * 1_048_576 }
        configuration.pluginLimits.openFiles = pluginOpenFiles
        var redisOptions = RedisClient.Configuration()
        redisOptions.maximumConnections = 8
        return Supervisor(configuration: configuration, redis: RedisClient(redis, configuration: redisOptions, logger: logger), logger: logger)
    }

    func socketPath() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        if let path = rpcSocket ?? environment["PINGUIN_SOCKET"] { return path }
        if getuid() == 0 { return "/run/pinguin/pinguind.sock" }
        if let runtime = environment["XDG_RUNTIME_DIR"] { return runtime + "/pinguin/pinguind.sock" }
        throw ValidationError("no socket path: pass --rpc-socket or set PINGUIN_SOCKET")
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
