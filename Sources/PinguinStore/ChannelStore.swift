public import Foundation
public import PinguinPostgres

/// A notification channel to create or, filled in from the stored one, to save. The control plane
/// validates `configJSON` and `secretsJSON` against the kind before it gets here.
public struct ChannelDraft: Sendable, Hashable {
    public var namespace = "default"
    public var name: String
    public var kind: String
    public var configJSON = "{}"
    /// A JSON object of strings: credentials, never shown by the API.
    public var secretsJSON = "{}"
    public var enabled = true
    /// The monitors whose alerts go to this channel.
    public var monitorIDs: [Int64] = []

    public init(name: String, kind: String) {
        self.name = name
        self.kind = kind
    }
}

/// A stored channel, as the API shows it: the names of its secrets, never their values.
public struct ChannelRecord: Sendable, Hashable {
    public var id: Int64
    public var namespace: String
    public var name: String
    public var kind: String
    public var configJSON: String
    public var secretNames: [String]
    public var enabled: Bool
    public var monitorIDs: [Int64]
    public var createdAt: Date
    public var updatedAt: Date

    /// The draft that saves this channel unchanged, given its secrets.
    public func draft(secretsJSON: String) -> ChannelDraft {
        var draft = ChannelDraft(name: name, kind: kind)
        draft.namespace = namespace
        draft.configJSON = configJSON
        draft.secretsJSON = secretsJSON
        draft.enabled = enabled
        draft.monitorIDs = monitorIDs
        return draft
    }
}

/// Filters of ``ChannelStore/list(_:)``; all optional, combined with AND.
public struct ChannelFilter: Sendable, Hashable {
    public var namespace: String?
    public var kind: String?
    /// Page size, 1…1000. Default 100.
    public var limit = 100
    /// Only channels with an id above this (keyset pagination).
    public var afterID: Int64?

    public init() {}
}

/// How a create or update ended.
public enum ChannelWriteOutcome: Sendable, Hashable {
    case saved(ChannelRecord)
    case notFound
    /// These monitor ids do not exist; nothing was written.
    case unknownMonitors([Int64])
}

/// Notification channels and which monitors use them, in PostgreSQL. Every write is audited with
/// the caller, in the same transaction; secret values never reach the audit log.
public struct ChannelStore: Sendable {
    public let client: PostgresClient

    public init(client: PostgresClient) {
        self.client = client
    }

    static let columns = """
        c.id, c.namespace, c.name, c.kind, c.config::text,
        ARRAY(SELECT jsonb_object_keys(c.secrets) ORDER BY 1), c.enabled,
        ARRAY(SELECT mc.monitor_id FROM monitor_channels mc WHERE mc.channel_id = c.id ORDER BY 1), c.created_at, c.updated_at
        """

    static func record(_ row: PostgresRow) throws -> ChannelRecord {
        ChannelRecord(
            id: try row.decode(Int64.self, column: 0), namespace: try row.decode(String.self, column: 1),
            name: try row.decode(String.self, column: 2), kind: try row.decode(String.self, column: 3),
            configJSON: try row.decode(String.self, column: 4), secretNames: try row.decode([String].self, column: 5),
            enabled: try row.decode(Bool.self, column: 6), monitorIDs: try row.decode([Int64].self, column: 7),
            createdAt: try row.decode(Date.self, column: 8), updatedAt: try row.decode(Date.self, column: 9))
    }

    /// The ids among `ids` that name no monitor. The monitors that do exist are locked against
    /// deletion until the transaction ends, so a reference written next stays valid.
    static func missingMonitors(_ ids: [Int64], on connection: PostgresConnection) async throws -> [Int64] {
        guard !ids.isEmpty else { return [] }
        let rows = try await connection.query("SELECT id FROM monitors WHERE id = ANY($1) FOR KEY SHARE", [ids])
        let found = Set(try rows.map { try $0.decode(Int64.self, column: 0) })
        return Set(ids).subtracting(found).sorted()
    }

    private static func select(_ id: Int64, on connection: PostgresConnection) async throws -> ChannelRecord {
        try Self.record(try await connection.query("SELECT \(columns) FROM notification_channels c WHERE c.id = $1", [id])[0])
    }

    /// Creates a channel with its monitor links and audits it, in one transaction.
    public func create(_ draft: ChannelDraft, actor: String) async throws -> ChannelWriteOutcome {
        try await client.withTransaction { connection in
            let monitorIDs = Array(Set(draft.monitorIDs)).sorted()
            let missing = try await Self.missingMonitors(monitorIDs, on: connection)
            guard missing.isEmpty else { return .unknownMonitors(missing) }
            let rows = try await connection.query("""
                INSERT INTO notification_channels (namespace, name, kind, config, secrets, enabled)
                VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6) RETURNING id
                """, [draft.namespace, draft.name, draft.kind, draft.configJSON, draft.secretsJSON, draft.enabled])
            let id = try rows[0].decode(Int64.self, column: 0)
            try await connection.query(
                "INSERT INTO monitor_channels (monitor_id, channel_id) SELECT unnest($1::bigint[]), $2", [monitorIDs, id])
            try await AuditLog.record(on: connection, actor: actor, action: "channel.create", subjectKind: "channel", subjectID: String(id))
            return .saved(try await Self.select(id, on: connection))
        }
    }

    public func get(id: Int64) async throws -> ChannelRecord? {
        try await client.query("SELECT \(Self.columns) FROM notification_channels c WHERE c.id = $1", [id]).first.map(Self.record)
    }

    /// Channels matching `filter`, by id.
    public func list(_ filter: ChannelFilter) async throws -> [ChannelRecord] {
        var conditions: [String] = []
        var binds: [any PostgresEncodable] = []
        func bind(_ value: any PostgresEncodable) -> String {
            binds.append(value)
            return "$\(binds.count)"
        }
        if let namespace = filter.namespace { conditions.append("c.namespace = \(bind(namespace))") }
        if let kind = filter.kind { conditions.append("c.kind = \(bind(kind))") }
        if let after = filter.afterID { conditions.append("c.id > \(bind(after))") }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let rows = try await client.query(
            "SELECT \(Self.columns) FROM notification_channels c \(whereClause) ORDER BY c.id LIMIT \(max(1, min(filter.limit, 1000)))", binds)
        return try rows.map(Self.record)
    }

    /// The channel with its secrets, for sending through it (`channel.test`).
    public func target(id: Int64) async throws -> ChannelTarget? {
        let rows = try await client.query(
            "SELECT id, name, kind, config::text, secrets::text, enabled FROM notification_channels WHERE id = $1", [id])
        guard let row = rows.first else { return nil }
        return ChannelTarget(
            id: try row.decode(Int64.self, column: 0), name: try row.decode(String.self, column: 1), kind: try row.decode(String.self, column: 2),
            configJSON: try row.decode(String.self, column: 3), secretsJSON: try row.decode(String.self, column: 4),
            enabled: try row.decode(Bool.self, column: 5))
    }

    /// The channel's secrets as a JSON object, for the notifier that delivers through it.
    public func secretsJSON(id: Int64) async throws -> String? {
        try await client.query("SELECT secrets::text FROM notification_channels WHERE id = $1", [id]).first?.decode(String.self, column: 0)
    }

    /// Reads the channel and its secrets with the row locked, saves what `change` makes of them,
    /// and audits `changedFields` (names only), in one transaction. Errors `change` throws pass through.
    public func update(
        id: Int64, changedFields: [String], actor: String, _ change: (ChannelRecord, _ secretsJSON: String) throws -> ChannelDraft
    ) async throws -> ChannelWriteOutcome {
        try await client.withTransaction { connection in
            let locked = try await connection.query("SELECT secrets::text FROM notification_channels WHERE id = $1 FOR UPDATE", [id])
            guard let secrets = try locked.first?.decode(String.self, column: 0) else { return .notFound }
            let current = try await Self.select(id, on: connection)
            let draft = try change(current, secrets)
            let monitorIDs = Array(Set(draft.monitorIDs)).sorted()
            if monitorIDs != current.monitorIDs {
                let missing = try await Self.missingMonitors(monitorIDs, on: connection)
                guard missing.isEmpty else { return .unknownMonitors(missing) }
                try await connection.query("DELETE FROM monitor_channels WHERE channel_id = $1 AND monitor_id <> ALL($2)", [id, monitorIDs])
                try await connection.query("""
                    INSERT INTO monitor_channels (monitor_id, channel_id) SELECT unnest($1::bigint[]), $2 ON CONFLICT DO NOTHING
                    """, [monitorIDs, id])
            }
            try await connection.query("""
                UPDATE notification_channels SET namespace = $2, name = $3, config = $4::jsonb, secrets = $5::jsonb, enabled = $6,
                    updated_at = now()
                WHERE id = $1
                """, [id, draft.namespace, draft.name, draft.configJSON, draft.secretsJSON, draft.enabled])
            let fields = changedFields.map { "\"\($0)\"" }.joined(separator: ",")
            try await AuditLog.record(on: connection, actor: actor, action: "channel.update", subjectKind: "channel",
                                      subjectID: String(id), detailsJSON: "{\"fields\":[\(fields)]}")
            return .saved(try await Self.select(id, on: connection))
        }
    }

    /// Deletes a channel (its monitor links and queued notifications go with it) and audits it; false if there was none.
    public func delete(id: Int64, actor: String) async throws -> Bool {
        try await client.withTransaction { connection in
            let deleted = try await connection.query("DELETE FROM notification_channels WHERE id = $1", [id]).affectedRows == 1
            if deleted {
                try await AuditLog.record(on: connection, actor: actor, action: "channel.delete", subjectKind: "channel", subjectID: String(id))
            }
            return deleted
        }
    }
}
