import Foundation
public import PinguinPostgres

/// What a new monitor needs. The control plane validates configs against the plugin's schema
/// before it gets here; the database's constraints are the last line.
public struct MonitorDraft: Sendable, Hashable {
    public var namespace = "default"
    public var name: String
    public var kind: String
    public var target: String
    public var configJSON = "{}"
    public var intervalMilliseconds: Int32 = 60_000
    public var timeoutMilliseconds: Int32 = 10_000
    public var retryIntervalMilliseconds: Int32 = 20_000
    public var failureThreshold: Int32 = 3
    public var recoveryThreshold: Int32 = 1
    public var tags: [String] = []

    public init(name: String, kind: String, target: String) {
        self.name = name
        self.kind = kind
        self.target = target
    }
}

/// Monitors in PostgreSQL (the part the storage layer needs; the control plane adds the rest).
public struct MonitorStore: Sendable {
    public let client: PostgresClient

    public init(client: PostgresClient) {
        self.client = client
    }

    /// Inserts a monitor and returns its id.
    public func create(_ draft: MonitorDraft) async throws -> Int64 {
        let rows = try await client.query("""
            INSERT INTO monitors (namespace, name, kind, target, config, interval_ms, timeout_ms, retry_interval_ms,
                failure_threshold, recovery_threshold, tags)
            VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10, $11) RETURNING id
            """, [draft.namespace, draft.name, draft.kind, draft.target, draft.configJSON, draft.intervalMilliseconds,
                  draft.timeoutMilliseconds, draft.retryIntervalMilliseconds, draft.failureThreshold,
                  draft.recoveryThreshold, draft.tags])
        return try rows[0].decode(Int64.self, column: 0)
    }

    /// Deletes a monitor with its results and rollups (which carry no foreign key, for ingest speed).
    /// Returns false if there was no such monitor.
    @discardableResult
    public func delete(id: Int64) async throws -> Bool {
        try await client.withTransaction { connection in
            for table in ["results", "results_rollup_1m", "results_rollup_1h", "results_rollup_1d"] {
                try await connection.query("DELETE FROM \(table) WHERE monitor_id = $1", [id])
            }
            return try await connection.query("DELETE FROM monitors WHERE id = $1", [id]).affectedRows == 1
        }
    }
}
