public import Logging
import PinguinClientKit

/// A pool of PostgreSQL connections: what every Pinguin role uses to reach the database.
///
/// Connections open lazily, up to ``Configuration/maximumConnections``. A connection that broke
/// (the server restarted, the network dropped) is noticed when it is returned or lent again and is
/// replaced, so the client reconnects by itself; the statement that was running when the
/// connection broke fails with ``PostgresError/Code/connectionClosed``, since its outcome is unknown.
public final class PostgresClient: Sendable {
    public struct Configuration: Sendable {
        /// At most this many connections are open at once. Default 8.
        public var maximumConnections = 8
        /// How long to keep retrying (with exponential backoff) when a connection cannot be opened
        /// before failing the call. Default 0: fail at once.
        public var connectRetryTimeout: Duration = .zero

        public init() {}
    }

    public let connection: PostgresConfiguration
    private let pool: ConnectionPool<PostgresConnection>

    public init(_ connection: PostgresConfiguration, configuration: Configuration = Configuration(), logger: Logger) {
        self.connection = connection
        pool = ConnectionPool(
            maximumConnections: configuration.maximumConnections,
            connectRetryTimeout: configuration.connectRetryTimeout
        ) {
            try await PostgresConnection.connect(configuration: connection, logger: logger)
        }
    }

    /// Connections open right now.
    public var openConnections: Int { pool.openConnections }

    /// Lends one connection to `body`.
    public func withConnection<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await pool.withConnection(body)
    }

    /// Runs `body` in a transaction on one connection: `COMMIT` when it returns, `ROLLBACK` when it throws.
    public func withTransaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await pool.withConnection { connection in
            try await connection.execute(script: "BEGIN")
            do {
                let result = try await body(connection)
                try await connection.execute(script: "COMMIT")
                return result
            } catch {
                // The pool rolls back whatever is still open before it lends the connection again.
                try? await connection.execute(script: "ROLLBACK")
                throw error
            }
        }
    }

    /// Runs one statement on any connection.
    @discardableResult
    public func query(_ sql: String, _ binds: [any PostgresEncodable] = []) async throws -> PostgresRows {
        try await pool.withConnection { try await $0.query(sql, binds) }
    }

    /// `COPY … FROM STDIN (FORMAT binary)` on any connection; returns the rows copied.
    @discardableResult
    public func copy(_ sql: String, batch: PostgresCopyBatch) async throws -> Int {
        try await pool.withConnection { try await $0.copy(sql, batch: batch) }
    }

    /// Closes every connection; later calls fail.
    public func close() async {
        await pool.close()
    }
}
