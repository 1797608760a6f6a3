public import Foundation
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
    /// Inserts a monitor, audited as done by "pinguin", and returns its id.
    public func create(_ draft: MonitorDraft) async throws -> Int64 {
        try await create(draft, actor: "pinguin").id
    }

    /// Deletes a monitor with its results and rollups (which carry no foreign key, for ingest speed),
    /// audited as done by "pinguin". Returns false if there was no such monitor.
    @discardableResult
    public func delete(id: Int64) async throws -> Bool {
        try await delete(id: id, actor: "pinguin")
    }
}

/// A stored monitor, as the API shows it.
public struct MonitorRecord: Sendable, Hashable {
    public var id: Int64
    public var namespace: String
    public var name: String
    public var kind: String
    public var target: String
    public var configJSON: String
    public var intervalMilliseconds: Int32
    public var timeoutMilliseconds: Int32
    public var retryIntervalMilliseconds: Int32
    public var failureThreshold: Int32
    public var recoveryThreshold: Int32
    public var upsideDown: Bool
    public var enabled: Bool
    public var paused: Bool
    public var tags: [String]
    public var description: String
    public var version: Int32
    public var createdAt: Date
    public var updatedAt: Date
}

/// Filters of ``MonitorStore/list(_:)``; all optional, combined with AND.
public struct MonitorFilter: Sendable, Hashable {
    public var namespace: String?
    public var kind: String?
    /// Monitors carrying every one of these tags.
    public var tags: [String] = []
    /// Case-insensitive substring of name, target or description.
    public var text: String?
    /// Page size, 1…1000. Default 100.
    public var limit = 100
    /// Only monitors with an id above this (keyset pagination).
    public var afterID: Int64?

    public init() {}
}

extension MonitorStore {
    static let columns = """
        id, namespace, name, kind, target, config::text, interval_ms, timeout_ms, retry_interval_ms, failure_threshold,
        recovery_threshold, upside_down, enabled, paused, tags, description, version, created_at, updated_at
        """

    static func record(_ row: PostgresRow) throws -> MonitorRecord {
        MonitorRecord(
            id: try row.decode(Int64.self, column: 0), namespace: try row.decode(String.self, column: 1),
            name: try row.decode(String.self, column: 2), kind: try row.decode(String.self, column: 3),
            target: try row.decode(String.self, column: 4), configJSON: try row.decode(String.self, column: 5),
            intervalMilliseconds: try row.decode(Int32.self, column: 6), timeoutMilliseconds: try row.decode(Int32.self, column: 7),
            retryIntervalMilliseconds: try row.decode(Int32.self, column: 8), failureThreshold: try row.decode(Int32.self, column: 9),
            recoveryThreshold: try row.decode(Int32.self, column: 10), upsideDown: try row.decode(Bool.self, column: 11),
            enabled: try row.decode(Bool.self, column: 12), paused: try row.decode(Bool.self, column: 13),
            tags: try row.decode([String].self, column: 14), description: try row.decode(String.self, column: 15),
            version: try row.decode(Int32.self, column: 16), createdAt: try row.decode(Date.self, column: 17),
            updatedAt: try row.decode(Date.self, column: 18))
    }

    /// Creates a monitor and records who did it in the audit log, in one transaction.
    public func create(_ draft: MonitorDraft, actor: String) async throws -> MonitorRecord {
        try await client.withTransaction { connection in
            let rows = try await connection.query("""
                INSERT INTO monitors (namespace, name, kind, target, config, interval_ms, timeout_ms, retry_interval_ms,
                    failure_threshold, recovery_threshold, tags)
                VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10, $11) RETURNING \(Self.columns)
                """, [draft.namespace, draft.name, draft.kind, draft.target, draft.configJSON, draft.intervalMilliseconds,
                      draft.timeoutMilliseconds, draft.retryIntervalMilliseconds, draft.failureThreshold,
                      draft.recoveryThreshold, draft.tags])
            let record = try Self.record(rows[0])
            try await AuditLog.record(on: connection, actor: actor, action: "monitor.create", subjectKind: "monitor", subjectID: String(record.id))
            return record
        }
    }

    public func get(id: Int64) async throws -> MonitorRecord? {
        let rows = try await client.query("SELECT \(Self.columns) FROM monitors WHERE id = $1", [id])
        return try rows.first.map(Self.record)
    }

    /// Monitors matching `filter`, by id.
    public func list(_ filter: MonitorFilter) async throws -> [MonitorRecord] {
        var conditions: [String] = []
        var binds: [any PostgresEncodable] = []
        func bind(_ value: any PostgresEncodable) -> String {
            binds.append(value)
            return "$\(binds.count)"
        }
        if let namespace = filter.namespace { conditions.append("namespace = \(bind(namespace))") }
        if let kind = filter.kind { conditions.append("kind = \(bind(kind))") }
        if !filter.tags.isEmpty { conditions.append("tags @> \(bind(filter.tags))") }
        if let text = filter.text {
            let pattern = "%" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
                .replacingOccurrences(of: "_", with: "\\_") + "%"
            let placeholder = bind(pattern)
            conditions.append("(name ILIKE \(placeholder) OR target ILIKE \(placeholder) OR description ILIKE \(placeholder))")
        }
        if let after = filter.afterID { conditions.append("id > \(bind(after))") }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let rows = try await client.query(
            "SELECT \(Self.columns) FROM monitors \(whereClause) ORDER BY id LIMIT \(max(1, min(filter.limit, 1000)))", binds)
        return try rows.map(Self.record)
    }

    /// Pauses or resumes; returns the monitor, or nil if there is none.
    public func setPaused(id: Int64, paused: Bool, actor: String) async throws -> MonitorRecord? {
        try await client.withTransaction { connection in
            let rows = try await connection.query("""
                UPDATE monitors SET paused = $2, version = version + CASE WHEN paused = $2 THEN 0 ELSE 1 END,
                    updated_at = CASE WHEN paused = $2 THEN updated_at ELSE now() END
                WHERE id = $1 RETURNING \(Self.columns)
                """, [id, paused])
            guard let row = rows.first else { return nil }
            try await AuditLog.record(on: connection, actor: actor, action: paused ? "monitor.pause" : "monitor.resume",
                                      subjectKind: "monitor", subjectID: String(id))
            return try Self.record(row)
        }
    }

    /// Deletes a monitor with its results and rollups, and audits it; false if there was none.
    public func delete(id: Int64, actor: String) async throws -> Bool {
        try await client.withTransaction { connection in
            for table in ["results", "results_rollup_1m", "results_rollup_1h", "results_rollup_1d", "results_rollup_1mo"] {
                try await connection.query("DELETE FROM \(table) WHERE monitor_id = $1", [id])
            }
            let deleted = try await connection.query("DELETE FROM monitors WHERE id = $1", [id]).affectedRows == 1
            if deleted {
                try await AuditLog.record(on: connection, actor: actor, action: "monitor.delete", subjectKind: "monitor", subjectID: String(id))
            }
            return deleted
        }
    }
}

/// The audit log: who changed what, written in the same transaction as the change.
public enum AuditLog {
    public static func record(
        on connection: PostgresConnection, actor: String, action: String, subjectKind: String, subjectID: String, detailsJSON: String = "{}"
    ) async throws {
        try await connection.query(
            "INSERT INTO audit_log (actor, action, subject_kind, subject_id, details) VALUES ($1, $2, $3, $4, $5::jsonb)",
            [actor, action, subjectKind, subjectID, detailsJSON])
    }
}

/// Fields to change; nil leaves a field as it is.
public struct MonitorChanges: Sendable, Hashable {
    public var name: String?
    public var target: String?
    public var configJSON: String?
    public var intervalMilliseconds: Int32?
    public var timeoutMilliseconds: Int32?
    public var retryIntervalMilliseconds: Int32?
    public var failureThreshold: Int32?
    public var recoveryThreshold: Int32?
    public var tags: [String]?
    public var description: String?

    public init() {}

    /// The names of the fields that change, for the audit log.
    public var changedFields: [String] {
        var fields: [String] = []
        if name != nil { fields.append("name") }
        if target != nil { fields.append("target") }
        if configJSON != nil { fields.append("config") }
        if intervalMilliseconds != nil { fields.append("interval_ms") }
        if timeoutMilliseconds != nil { fields.append("timeout_ms") }
        if retryIntervalMilliseconds != nil { fields.append("retry_interval_ms") }
        if failureThreshold != nil { fields.append("failure_threshold") }
        if recoveryThreshold != nil { fields.append("recovery_threshold") }
        if tags != nil { fields.append("tags") }
        if description != nil { fields.append("description") }
        return fields
    }
}

/// How an update ended.
public enum MonitorUpdateOutcome: Sendable, Hashable {
    case updated(MonitorRecord)
    case notFound
    /// The monitor's version is no longer the one the caller read.
    case versionConflict(current: Int32)
}

extension MonitorStore {
    /// Applies `changes` if the monitor still has `expectedVersion` (when given), raising its
    /// version, and audits the changed field names, in one transaction.
    public func update(id: Int64, changes: MonitorChanges, expectedVersion: Int32?, actor: String) async throws -> MonitorUpdateOutcome {
        try await client.withTransaction { connection in
            let rows = try await connection.query("""
                UPDATE monitors SET
                    name = coalesce($3, name), target = coalesce($4, target), config = coalesce($5::jsonb, config),
                    interval_ms = coalesce($6, interval_ms), timeout_ms = coalesce($7, timeout_ms),
                    retry_interval_ms = coalesce($8, retry_interval_ms), failure_threshold = coalesce($9, failure_threshold),
                    recovery_threshold = coalesce($10, recovery_threshold), tags = coalesce($11, tags),
                    description = coalesce($12, description), version = version + 1, updated_at = now()
                WHERE id = $1 AND ($2::int IS NULL OR version = $2)
                RETURNING \(Self.columns)
                """, [id, expectedVersion, changes.name, changes.target, changes.configJSON, changes.intervalMilliseconds,
                      changes.timeoutMilliseconds, changes.retryIntervalMilliseconds, changes.failureThreshold,
                      changes.recoveryThreshold, changes.tags, changes.description])
            guard let row = rows.first else {
                let current = try await connection.query("SELECT version FROM monitors WHERE id = $1", [id])
                guard let version = try current.first?.decode(Int32.self, column: 0) else { return .notFound }
                return .versionConflict(current: version)
            }
            let fields = changes.changedFields.map { "\"\($0)\"" }.joined(separator: ",")
            try await AuditLog.record(on: connection, actor: actor, action: "monitor.update", subjectKind: "monitor",
                                      subjectID: String(id), detailsJSON: "{\"fields\":[\(fields)]}")
            return .updated(try Self.record(row))
        }
    }
}
