public import Logging
import PinguinClientKit

/// A pool of Redis connections with reconnect: what every Pinguin role uses for commands,
/// pipelines, scripts and streams. Pub/sub needs its own connection: see ``RedisSubscriber``.
///
/// A connection that broke (server restart, timeout, cancellation) is dropped and replaced on the
/// next call; opening retries with exponential backoff for up to
/// ``Configuration/connectRetryTimeout``. A command that was in flight when its connection broke
/// fails with ``RedisError/Code/connectionClosed`` and is not re-sent, since it may have run.
public final class RedisClient: Sendable {
    public struct Configuration: Sendable {
        /// At most this many connections at once; a blocking `XREADGROUP` holds one for its duration. Default 8.
        public var maximumConnections = 8
        /// How long to keep retrying to connect before failing a call. Default 5 s.
        public var connectRetryTimeout: Duration = .seconds(5)

        public init() {}
    }

    public let connection: RedisConfiguration
    private let pool: ConnectionPool<RedisConnection>

    public init(_ connection: RedisConfiguration, configuration: Configuration = Configuration(), logger: Logger) {
        self.connection = connection
        pool = ConnectionPool(
            maximumConnections: configuration.maximumConnections,
            connectRetryTimeout: configuration.connectRetryTimeout
        ) {
            try await RedisConnection.connect(configuration: connection, logger: logger)
        }
    }

    public var openConnections: Int { pool.openConnections }

    /// Sends one command; an error reply throws ``RedisError/Code/server``.
    @discardableResult
    public func send(_ command: RedisCommand, blocking: Duration = .zero) async throws -> RedisValue {
        try await pool.withConnection { try await $0.send(command, blocking: blocking) }
    }

    /// Sends one command built from its name and arguments.
    @discardableResult
    public func send(_ name: String, _ arguments: any RedisArgument...) async throws -> RedisValue {
        try await send(RedisCommand(name, arguments: arguments))
    }

    /// Sends all commands on one connection before reading the replies; error replies come back in place.
    public func pipeline(_ commands: [RedisCommand]) async throws -> [RedisValue] {
        try await pool.withConnection { try await $0.pipeline(commands) }
    }

    /// Lends one connection, for a sequence of commands that must share it.
    public func withConnection<T: Sendable>(_ body: (RedisConnection) async throws -> T) async throws -> T {
        try await pool.withConnection(body)
    }

    public func close() async {
        await pool.close()
    }
}
