public import Foundation
public import PinguinPostgres

/// A maintenance window to create or, filled in from the stored one, to save: either one-off
/// (`startsAt`…`endsAt`) or recurring (`cron` in `timeZone`, lasting `durationMilliseconds`).
/// The control plane validates it before it gets here; the database's constraints are the last line.
public struct MaintenanceDraft: Sendable, Hashable {
    public var namespace = "default"
    public var name: String
    public var description = ""
    public var startsAt: Date?
    public var endsAt: Date?
    public var cron: String?
    public var durationMilliseconds: Int64?
    /// An IANA time zone name, in which `cron` is read.
    public var timeZone = "UTC"
    /// The window covers these monitors and every monitor carrying one of `tags`.
    public var monitorIDs: [Int64] = []
    public var tags: [String] = []
    public var enabled = true

    public init(name: String) {
        self.name = name
    }
}

/// A stored maintenance window.
public struct MaintenanceRecord: Sendable, Hashable {
    public var id: Int64
    public var namespace: String
    public var name: String
    public var description: String
    public var startsAt: Date?
    public var endsAt: Date?
    public var cron: String?
    public var durationMilliseconds: Int64?
    public var timeZone: String
    public var monitorIDs: [Int64]
    public var tags: [String]
    public var enabled: Bool
    public var createdAt: Date
    public var updatedAt: Date

    /// The draft that saves this window unchanged.
    public var draft: MaintenanceDraft {
        var draft = MaintenanceDraft(name: name)
        draft.namespace = namespace
        draft.description = description
        draft.startsAt = startsAt
        draft.endsAt = endsAt
        draft.cron = cron
        draft.durationMilliseconds = durationMilliseconds
        draft.timeZone = timeZone
        draft.monitorIDs = monitorIDs
        draft.tags = tags
        draft.enabled = enabled
        return draft
    }

    private var schedule: (CronExpression, TimeZone)? {
        guard let cron, let expression = try? CronExpression(parsing: cron), let zone = TimeZone(identifier: timeZone) else { return nil }
        return (expression, zone)
    }

    /// Whether the window is enabled and covers `date`.
    public func isActive(at date: Date) -> Bool {
        guard enabled else { return false }
        if let (expression, zone) = schedule, let duration = durationMilliseconds {
            return expression.occurrence(covering: date, duration: TimeInterval(duration) / 1_000, in: zone) != nil
        }
        guard let startsAt, let endsAt else { return false }
        return startsAt <= date && date < endsAt
    }

    /// When the window next begins after `date`, if it is enabled and will.
    public func nextStart(after date: Date) -> Date? {
        guard enabled else { return nil }
        if let (expression, zone) = schedule { return expression.next(after: date, in: zone) }
        guard let startsAt, startsAt > date else { return nil }
        return startsAt
    }
}

/// Filters of ``MaintenanceStore/list(_:now:)``; all optional, combined with AND.
public struct MaintenanceFilter: Sendable, Hashable {
    public var namespace: String?
    /// Only windows that are (true) or are not (false) in effect now.
    public var active: Bool?
    /// Only windows covering this monitor, by id or by one of its tags.
    public var monitorID: Int64?
    /// Page size, 1…1000. Default 100.
    public var limit = 100
    /// Only windows with an id above this (keyset pagination).
    public var afterID: Int64?

    public init() {}
}

/// How a create or update ended.
public enum MaintenanceWriteOutcome: Sendable, Hashable {
    case saved(MaintenanceRecord)
    case notFound
    /// These monitor ids do not exist; nothing was written.
    case unknownMonitors([Int64])
}

/// Maintenance windows in PostgreSQL. Every write is audited with the caller, in the same transaction.
public struct MaintenanceStore: Sendable {
    public let client: PostgresClient

    public init(client: PostgresClient) {
        self.client = client
    }

    static let columns = """
        id, namespace, name, description, starts_at, ends_at, cron, duration_ms, timezone, monitor_ids, tags, enabled,
        created_at, updated_at
        """

    static func record(_ row: PostgresRow) throws -> MaintenanceRecord {
        MaintenanceRecord(
            id: try row.decode(Int64.self, column: 0), namespace: try row.decode(String.self, column: 1),
            name: try row.decode(String.self, column: 2), description: try row.decode(String.self, column: 3),
            startsAt: try row.decode(Date?.self, column: 4), endsAt: try row.decode(Date?.self, column: 5),
            cron: try row.decode(String?.self, column: 6), durationMilliseconds: try row.decode(Int64?.self, column: 7),
            timeZone: try row.decode(String.self, column: 8), monitorIDs: try row.decode([Int64].self, column: 9),
            tags: try row.decode([String].self, column: 10), enabled: try row.decode(Bool.self, column: 11),
            createdAt: try row.decode(Date.self, column: 12), updatedAt: try row.decode(Date.self, column: 13))
    }

    /// Creates a window and audits it, in one transaction.
    public func create(_ draft: MaintenanceDraft, actor: String) async throws -> MaintenanceWriteOutcome {
        try await client.withTransaction { connection in
            let monitorIDs = Array(Set(draft.monitorIDs)).sorted()
            let missing = try await ChannelStore.missingMonitors(monitorIDs, on: connection)
            guard missing.isEmpty else { return .unknownMonitors(missing) }
            let rows = try await connection.query("""
                INSERT INTO maintenance_windows (namespace, name, description, starts_at, ends_at, cron, duration_ms, timezone,
                    monitor_ids, tags, enabled)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING \(Self.columns)
                """, [draft.namespace, draft.name, draft.description, draft.startsAt, draft.endsAt, draft.cron,
                      draft.durationMilliseconds, draft.timeZone, monitorIDs, draft.tags, draft.enabled])
            let record = try Self.record(rows[0])
            try await AuditLog.record(on: connection, actor: actor, action: "maintenance.create", subjectKind: "maintenance",
                                      subjectID: String(record.id))
            return .saved(record)
        }
    }

    public func get(id: Int64) async throws -> MaintenanceRecord? {
        try await client.query("SELECT \(Self.columns) FROM maintenance_windows WHERE id = $1", [id]).first.map(Self.record)
    }

    /// Windows matching `filter`, by id; `now` decides which are active.
    public func list(_ filter: MaintenanceFilter, now: Date) async throws -> [MaintenanceRecord] {
        var conditions: [String] = []
        var binds: [any PostgresEncodable] = []
        func bind(_ value: any PostgresEncodable) -> String {
            binds.append(value)
            return "$\(binds.count)"
        }
        if let namespace = filter.namespace { conditions.append("namespace = \(bind(namespace))") }
        if let monitor = filter.monitorID {
            let placeholder = bind(monitor)
            conditions.append("(\(placeholder) = ANY(monitor_ids) OR tags && coalesce((SELECT tags FROM monitors WHERE id = \(placeholder)), '{}'))")
        }
        let limit = max(1, min(filter.limit, 1000))
        var after = filter.afterID ?? 0
        let cursor = bind(after)
        conditions.append("id > \(cursor)")
        let sql = "SELECT \(Self.columns) FROM maintenance_windows WHERE \(conditions.joined(separator: " AND ")) ORDER BY id LIMIT \(limit)"
        // Whether a recurring window is active is known only here, so with that filter read on
        // until the page is full.
        var records: [MaintenanceRecord] = []
        while true {
            binds[binds.count - 1] = after
            let batch = try await client.query(sql, binds).map(Self.record)
            records += batch.filter { filter.active == nil || $0.isActive(at: now) == filter.active }
            guard records.count < limit, batch.count == limit, let last = batch.last else { break }
            after = last.id
        }
        return Array(records.prefix(limit))
    }

    /// Reads the window with the row locked, saves what `change` makes of it, and audits
    /// `changedFields`, in one transaction. Errors `change` throws pass through.
    public func update(
        id: Int64, changedFields: [String], actor: String, _ change: (MaintenanceRecord) throws -> MaintenanceDraft
    ) async throws -> MaintenanceWriteOutcome {
        try await client.withTransaction { connection in
            let locked = try await connection.query("SELECT \(Self.columns) FROM maintenance_windows WHERE id = $1 FOR UPDATE", [id])
            guard let row = locked.first else { return .notFound }
            let current = try Self.record(row)
            let draft = try change(current)
            let monitorIDs = Array(Set(draft.monitorIDs)).sorted()
            if monitorIDs != current.monitorIDs {
                let missing = try await ChannelStore.missingMonitors(monitorIDs, on: connection)
                guard missing.isEmpty else { return .unknownMonitors(missing) }
            }
            let rows = try await connection.query("""
                UPDATE maintenance_windows SET namespace = $2, name = $3, description = $4, starts_at = $5, ends_at = $6, cron = $7,
                    duration_ms = $8, timezone = $9, monitor_ids = $10, tags = $11, enabled = $12, updated_at = now()
                WHERE id = $1 RETURNING \(Self.columns)
                """, [id, draft.namespace, draft.name, draft.description, draft.startsAt, draft.endsAt, draft.cron,
                      draft.durationMilliseconds, draft.timeZone, monitorIDs, draft.tags, draft.enabled])
            let fields = changedFields.map { "\"\($0)\"" }.joined(separator: ",")
            try await AuditLog.record(on: connection, actor: actor, action: "maintenance.update", subjectKind: "maintenance",
                                      subjectID: String(id), detailsJSON: "{\"fields\":[\(fields)]}")
            return .saved(try Self.record(rows[0]))
        }
    }

    /// Deletes a window and audits it; false if there was none.
    public func delete(id: Int64, actor: String) async throws -> Bool {
        try await client.withTransaction { connection in
            let deleted = try await connection.query("DELETE FROM maintenance_windows WHERE id = $1", [id]).affectedRows == 1
            if deleted {
                try await AuditLog.record(on: connection, actor: actor, action: "maintenance.delete", subjectKind: "maintenance",
                                          subjectID: String(id))
            }
            return deleted
        }
    }
}
