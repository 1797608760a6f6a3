public import Foundation
public import Logging
public import PinguinPostgres

/// Applies and reverts ``Migrations`` and says where a database stands.
///
/// Every operation holds a PostgreSQL advisory lock for its whole length, so two `pinguind`
/// starting at once apply each migration exactly once: the second waits, then finds nothing to do.
/// Each migration runs in its own transaction together with its row in `schema_migrations`.
public struct MigrationRunner: Sendable {
    public struct Entry: Sendable, Hashable {
        public var version: Int
        public var name: String
        /// When it was applied; nil if pending.
        public var appliedAt: Date?
        /// Applied by a newer Pinguin: this binary does not know it (and cannot revert it).
        public var unknown: Bool
        /// Applied, but its SQL in this binary differs from what was applied.
        public var changed: Bool
    }

    /// The lock's key: any constant both copies agree on.
    static let lockKey: Int64 = 0x5049_4E47_5549_4E01

    public let client: PostgresClient
    public let migrations: [Migration]
    let logger: Logger

    public init(client: PostgresClient, migrations: [Migration] = Migrations.all, logger: Logger) {
        precondition(migrations.map(\.version) == Array(1...migrations.count), "migration versions must be 1…n")
        self.client = client
        self.migrations = migrations
        self.logger = logger
    }

    /// Every known migration and every applied one, by version.
    public func status() async throws -> [Entry] {
        try await locked { connection in try await entries(on: connection) }
    }

    /// Applies pending migrations up to `target` (default: all); returns the versions applied.
    @discardableResult
    public func up(to target: Int? = nil) async throws -> [Int] {
        let target = target ?? migrations.count
        guard (0...migrations.count).contains(target) else {
            throw StoreError(code: .invalidArgument, message: "no migration \(target): this pinguind knows 1…\(migrations.count)")
        }
        return try await locked { connection in
            let entries = try await entries(on: connection)
            if let changed = entries.first(where: \.changed) {
                throw StoreError(code: .schemaMismatch, message: "migration \(changed.version) (\(changed.name)) differs from the one applied to this database; a released migration must never change")
            }
            let applied = Set(entries.filter { $0.appliedAt != nil }.map(\.version))
            var done: [Int] = []
            for migration in migrations where migration.version <= target && !applied.contains(migration.version) {
                let started = ContinuousClock.now
                try await run(migration.up, on: connection,
                              then: "INSERT INTO schema_migrations (version, name, checksum) VALUES (\(migration.version), $1, '\(migration.checksum)')",
                              migration.name)
                logger.info("migration applied", metadata: [
                    "migration.version": "\(migration.version)", "migration.name": "\(migration.name)",
                    "migration.duration": "\(ContinuousClock.now - started)",
                ])
                done.append(migration.version)
            }
            return done
        }
    }

    /// Reverts applied migrations above `target` (newest first); returns the versions reverted.
    @discardableResult
    public func down(to target: Int) async throws -> [Int] {
        guard target >= 0 else { throw StoreError(code: .invalidArgument, message: "the target version must be 0 or more") }
        return try await locked { connection in
            let entries = try await entries(on: connection)
            if let unknown = entries.first(where: { $0.unknown && $0.version > target }) {
                throw StoreError(code: .invalidArgument, message: "migration \(unknown.version) was applied by a newer pinguind; revert it with that version")
            }
            var done: [Int] = []
            for entry in entries.reversed() where entry.appliedAt != nil && entry.version > target {
                let migration = migrations[entry.version - 1]
                try await run(migration.down, on: connection, then: "DELETE FROM schema_migrations WHERE version = \(migration.version) AND name = $1", migration.name)
                logger.info("migration reverted", metadata: [
                    "migration.version": "\(migration.version)", "migration.name": "\(migration.name)",
                ])
                done.append(migration.version)
            }
            return done
        }
    }

    /// The newest applied version, 0 for none.
    public func currentVersion() async throws -> Int {
        try await status().filter { $0.appliedAt != nil }.map(\.version).max() ?? 0
    }

    private func locked<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await client.withConnection { connection in
            try await connection.query("SELECT pg_advisory_lock($1)", [Self.lockKey])
            do {
                try await connection.execute(script: """
                    CREATE TABLE IF NOT EXISTS schema_migrations (
                        version integer PRIMARY KEY,
                        name text NOT NULL,
                        checksum text NOT NULL DEFAULT '',
                        applied_at timestamptz NOT NULL DEFAULT now()
                    );
                    ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum text NOT NULL DEFAULT '';
                    """)
                let result = try await body(connection)
                try await connection.query("SELECT pg_advisory_unlock($1)", [Self.lockKey])
                return result
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock($1)", [Self.lockKey])
                throw error
            }
        }
    }

    private func entries(on connection: PostgresConnection) async throws -> [Entry] {
        let rows = try await connection.query("SELECT version, name, applied_at, checksum FROM schema_migrations ORDER BY version")
        var applied: [Int: (name: String, at: Date, checksum: String)] = [:]
        for row in rows {
            applied[Int(try row.decode(Int32.self, column: 0))] = (
                try row.decode(String.self, column: 1), try row.decode(Date.self, column: 2), try row.decode(String.self, column: 3))
        }
        var result = migrations.map { migration in
            let record = applied[migration.version]
            return Entry(version: migration.version, name: migration.name, appliedAt: record?.at, unknown: false,
                         changed: record.map { !$0.checksum.isEmpty && $0.checksum != migration.checksum } ?? false)
        }
        for (version, record) in applied.sorted(by: { $0.key < $1.key }) where version > migrations.count {
            result.append(Entry(version: version, name: record.name, appliedAt: record.at, unknown: true, changed: false))
        }
        return result
    }

    private func run(_ script: String, on connection: PostgresConnection, then record: String, _ name: String) async throws {
        try await connection.execute(script: "BEGIN")
        do {
            try await connection.execute(script: script)
            try await connection.query(record, [name])
            try await connection.execute(script: "COMMIT")
        } catch {
            _ = try? await connection.execute(script: "ROLLBACK")
            throw error
        }
    }
}
