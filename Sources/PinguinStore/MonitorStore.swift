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
    public var locations: [String] = []
    public var description = ""
    public var upsideDown = false
    public var enabled = true
    public var paused = false
    /// Monitors whose failure holds this one's alerts back (``MonitorDependencyError`` lists what is refused).
    public var dependsOn: [Int64] = []

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
    public var locations: [String]
    /// What the status engine last decided; nil before its first result.
    public var state: MonitorStateSummary?
    /// The monitors this one depends on, by id.
    public var dependsOn: [Int64]
}

/// A monitor's current state (table `monitor_state`).
public struct MonitorStateSummary: Sendable, Hashable {
    public var status: String
    public var since: Date
    public var lastStatus: String?
    public var lastLatencyMilliseconds: Double?
    public var lastMessage: String?
    public var lastScheduledAt: Date?
}

/// Filters of ``MonitorStore/list(_:)``; all optional, combined with AND.
public struct MonitorFilter: Sendable, Hashable {
    public var namespace: String?
    public var kind: String?
    /// Monitors carrying every one of these tags.
    public var tags: [String] = []
    /// Case-insensitive substring of name, target or description.
    public var text: String?
    /// Current state: `paused` matches paused monitors; any other state matches monitors that are
    /// not paused and in that state (`pending` also before their first result).
    public var status: String?
    /// Page size, 1…1000. Default 100.
    public var limit = 100
    /// Only monitors with an id above this (keyset pagination).
    public var afterID: Int64?

    public init() {}
}

extension MonitorStore {
    static let columns = """
        m.id, m.namespace, m.name, m.kind, m.target, m.config::text, m.interval_ms, m.timeout_ms, m.retry_interval_ms,
        m.failure_threshold, m.recovery_threshold, m.upside_down, m.enabled, m.paused, m.tags, m.description, m.version,
        m.created_at, m.updated_at, m.locations,
        s.status, s.status_since, s.last_status, s.last_latency_ms, s.last_message, s.last_scheduled_at,
        ARRAY(SELECT d.depends_on FROM monitor_dependencies d WHERE d.monitor_id = m.id ORDER BY 1)
        """
    /// `FROM` clause joining each monitor (`m`) with its state (`s`).
    static let source = "monitors m LEFT JOIN monitor_state s ON s.monitor_id = m.id"

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
            updatedAt: try row.decode(Date.self, column: 18), locations: try row.decode([String].self, column: 19),
            state: try row.decode(String?.self, column: 20).map { status in
                MonitorStateSummary(
                    status: status, since: try row.decode(Date.self, column: 21), lastStatus: try row.decode(String?.self, column: 22),
                    lastLatencyMilliseconds: try row.decode(Double?.self, column: 23), lastMessage: try row.decode(String?.self, column: 24),
                    lastScheduledAt: try row.decode(Date?.self, column: 25))
            },
            dependsOn: try row.decode([Int64].self, column: 26))
    }

    /// Creates a monitor with its dependencies and records who did it in the audit log, in one
    /// transaction. Throws ``MonitorDependencyError`` (nothing written) for dependencies it refuses.
    public func create(_ draft: MonitorDraft, actor: String) async throws -> MonitorRecord {
        let dependsOn = try Self.dependencySet(draft.dependsOn, of: nil)
        return try await client.withTransaction { connection in
            if !dependsOn.isEmpty {
                // Before any row lock: wait for a dependency update in progress rather than deadlock with it.
                try await connection.query("LOCK TABLE monitor_dependencies IN ROW EXCLUSIVE MODE")
                let missing = try await ChannelStore.missingMonitors(dependsOn, on: connection)
                guard missing.isEmpty else { throw MonitorDependencyError(code: .unknownMonitors, monitorIDs: missing) }
            }
            let rows = try await connection.query("""
                WITH m AS (
                    INSERT INTO monitors (namespace, name, kind, target, config, interval_ms, timeout_ms, retry_interval_ms,
                        failure_threshold, recovery_threshold, tags, locations, description, upside_down, enabled, paused)
                    VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING *)
                SELECT \(Self.columns) FROM m LEFT JOIN monitor_state s ON false
                """, [draft.namespace, draft.name, draft.kind, draft.target, draft.configJSON, draft.intervalMilliseconds,
                      draft.timeoutMilliseconds, draft.retryIntervalMilliseconds, draft.failureThreshold,
                      draft.recoveryThreshold, draft.tags, draft.locations, draft.description, draft.upsideDown,
                      draft.enabled, draft.paused])
            var record = try Self.record(rows[0])
            if !dependsOn.isEmpty {
                // A new monitor has no dependents, so it cannot close a cycle.
                try await connection.query(
                    "INSERT INTO monitor_dependencies (monitor_id, depends_on) SELECT $1, unnest($2::bigint[])", [record.id, dependsOn])
                record.dependsOn = dependsOn
            }
            try await AuditLog.record(on: connection, actor: actor, action: "monitor.create", subjectKind: "monitor", subjectID: String(record.id))
            return record
        }
    }

    public func get(id: Int64) async throws -> MonitorRecord? {
        let rows = try await client.query("SELECT \(Self.columns) FROM \(Self.source) WHERE m.id = $1", [id])
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
        if let namespace = filter.namespace { conditions.append("m.namespace = \(bind(namespace))") }
        if let kind = filter.kind { conditions.append("m.kind = \(bind(kind))") }
        if !filter.tags.isEmpty { conditions.append("m.tags @> \(bind(filter.tags))") }
        if let status = filter.status {
            conditions.append(status == "paused" ? "m.paused" : "NOT m.paused AND coalesce(s.status, 'pending') = \(bind(status))")
        }
        if let text = filter.text {
            let pattern = "%" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
                .replacingOccurrences(of: "_", with: "\\_") + "%"
            let placeholder = bind(pattern)
            conditions.append("(m.name ILIKE \(placeholder) OR m.target ILIKE \(placeholder) OR m.description ILIKE \(placeholder))")
        }
        if let after = filter.afterID { conditions.append("m.id > \(bind(after))") }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let rows = try await client.query(
            "SELECT \(Self.columns) FROM \(Self.source) \(whereClause) ORDER BY m.id LIMIT \(max(1, min(filter.limit, 1000)))", binds)
        return try rows.map(Self.record)
    }

    /// Pauses or resumes; returns the monitor, or nil if there is none.
    public func setPaused(id: Int64, paused: Bool, actor: String) async throws -> MonitorRecord? {
        try await client.withTransaction { connection in
            let rows = try await connection.query("""
                WITH m AS (
                    UPDATE monitors SET paused = $2, version = version + CASE WHEN paused = $2 THEN 0 ELSE 1 END,
                        updated_at = CASE WHEN paused = $2 THEN updated_at ELSE now() END
                    WHERE id = $1 RETURNING *)
                SELECT \(Self.columns) FROM m LEFT JOIN monitor_state s ON s.monitor_id = m.id
                """, [id, paused])
            guard let row = rows.first else { return nil }
            try await AuditLog.record(on: connection, actor: actor, action: paused ? "monitor.pause" : "monitor.resume",
                                      subjectKind: "monitor", subjectID: String(id))
            return try Self.record(row)
        }
    }

    /// Deletes a monitor with its results and rollups, and audits it; false if there was none.
    /// Its dependency links, both ways, go with it (ON DELETE CASCADE).
    public func delete(id: Int64, actor: String) async throws -> Bool {
        try await client.withTransaction { connection in
            // The cascade locks this table after the monitor's row; taken first, a dependency update in
            // progress (table lock, then the rows it names) is waited for instead of deadlocked with.
            try await connection.query("LOCK TABLE monitor_dependencies IN ROW EXCLUSIVE MODE")
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
    public var locations: [String]?
    public var description: String?
    public var upsideDown: Bool?
    public var enabled: Bool?
    /// Replaces the monitors this one depends on.
    public var dependsOn: [Int64]?

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
        if locations != nil { fields.append("locations") }
        if description != nil { fields.append("description") }
        if upsideDown != nil { fields.append("upside_down") }
        if enabled != nil { fields.append("enabled") }
        if dependsOn != nil { fields.append("depends_on") }
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
    /// version, and audits the changed field names, in one transaction. Throws
    /// ``MonitorDependencyError`` (nothing written) for dependencies it refuses.
    public func update(id: Int64, changes: MonitorChanges, expectedVersion: Int32?, actor: String) async throws -> MonitorUpdateOutcome {
        let dependsOn = try changes.dependsOn.map { try Self.dependencySet($0, of: id) }
        return try await client.withTransaction { connection in
            if dependsOn != nil {
                // Self-conflicting and taken before any row lock: two updates cannot each add half of a
                // cycle, since the second one's check runs after the first commits and sees its rows.
                try await connection.query("LOCK TABLE monitor_dependencies IN SHARE ROW EXCLUSIVE MODE")
            }
            let rows = try await connection.query("""
                WITH m AS (
                    UPDATE monitors SET
                        name = coalesce($3, name), target = coalesce($4, target), config = coalesce($5::jsonb, config),
                        interval_ms = coalesce($6, interval_ms), timeout_ms = coalesce($7, timeout_ms),
                        retry_interval_ms = coalesce($8, retry_interval_ms), failure_threshold = coalesce($9, failure_threshold),
                        recovery_threshold = coalesce($10, recovery_threshold), tags = coalesce($11, tags),
                        description = coalesce($12, description), locations = coalesce($13, locations),
                        upside_down = coalesce($14, upside_down), enabled = coalesce($15, enabled),
                        version = version + 1, updated_at = now()
                    WHERE id = $1 AND ($2::int IS NULL OR version = $2)
                    RETURNING *)
                SELECT \(Self.columns) FROM m LEFT JOIN monitor_state s ON s.monitor_id = m.id
                """, [id, expectedVersion, changes.name, changes.target, changes.configJSON, changes.intervalMilliseconds,
                      changes.timeoutMilliseconds, changes.retryIntervalMilliseconds, changes.failureThreshold,
                      changes.recoveryThreshold, changes.tags, changes.description, changes.locations, changes.upsideDown,
                      changes.enabled])
            guard let row = rows.first else {
                let current = try await connection.query("SELECT version FROM monitors WHERE id = $1", [id])
                guard let version = try current.first?.decode(Int32.self, column: 0) else { return .notFound }
                return .versionConflict(current: version)
            }
            var record = try Self.record(row)
            if let dependsOn, dependsOn != record.dependsOn {
                try await Self.replaceDependencies(of: id, with: dependsOn, on: connection)
                record.dependsOn = dependsOn
            }
            let fields = changes.changedFields.map { "\"\($0)\"" }.joined(separator: ",")
            try await AuditLog.record(on: connection, actor: actor, action: "monitor.update", subjectKind: "monitor",
                                      subjectID: String(id), detailsJSON: "{\"fields\":[\(fields)]}")
            return .updated(record)
        }
    }
}
