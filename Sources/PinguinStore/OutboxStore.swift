public import Foundation
public import PinguinPostgres
import PinguinWire

/// A channel as a sender needs it: with its secrets. Never shown by the API.
public struct ChannelTarget: Sendable, Hashable {
    public var id: Int64
    public var name: String
    public var kind: String
    public var configJSON: String
    public var secretsJSON: String
    public var enabled: Bool

    /// A stored `secrets` object as names to values (non-string members, which the API never
    /// stores, are left out; a text that is not an object reads as none).
    public static func secretValues(fromJSON json: String) -> [String: String] {
        guard let object = (try? JSONParser.parse(json))?.objectValue else { return [:] }
        var values: [String: String] = [:]
        for (key, value) in zip(object.keys, object.values) {
            if let text = value.stringValue { values[key] = text }
        }
        return values
    }

    public init(id: Int64, name: String, kind: String, configJSON: String, secretsJSON: String, enabled: Bool = true) {
        self.id = id
        self.name = name
        self.kind = kind
        self.configJSON = configJSON
        self.secretsJSON = secretsJSON
        self.enabled = enabled
    }
}

/// One outbox row claimed for sending.
public struct OutboxDelivery: Sendable, Hashable {
    public var id: Int64
    public var event: String
    public var payloadJSON: String
    /// Attempts so far, this one included.
    public var attempts: Int
    public var channel: ChannelTarget
}

/// An outbox row as `notification.list` shows it.
public struct OutboxRecord: Sendable, Hashable {
    public var id: Int64
    public var channelID: Int64
    public var monitorID: Int64?
    public var incidentID: Int64?
    public var event: String
    public var state: String
    public var attempts: Int
    public var nextAttemptAt: Date
    public var lastError: String?
    public var createdAt: Date
    public var deliveredAt: Date?
    public var payloadJSON: String
}

/// Filters of ``OutboxStore/list(_:)``, combined with AND.
public struct OutboxFilter: Sendable, Hashable {
    public var channelID: Int64?
    public var monitorID: Int64?
    public var state: String?
    public var event: String?
    /// Page size, newest first. Default 100.
    public var limit = 100
    /// Only rows with an id below this (keyset pagination, newest first).
    public var beforeID: Int64?

    public init() {}
}

/// The durable notification outbox (`notification_outbox`): rows are written by the status
/// engine in the transaction of the change they announce, then claimed, sent and settled here.
///
/// A claim is a lease: the row turns `sending` with `locked_by` and `locked_until`, taken with
/// `FOR UPDATE SKIP LOCKED`, so concurrent senders never take the same row; a sender that dies
/// leaves its lease to run out, and the row is claimed again. Rows of one channel and monitor
/// are sent in order: none is claimed while an older one of the same pair is unsettled.
public struct OutboxStore: Sendable {
    public let client: PostgresClient

    public init(client: PostgresClient) {
        self.client = client
    }

    /// Claims up to `limit` due rows for `owner`, leased for `lease`.
    public func claim(owner: String, limit: Int, lease: Duration) async throws -> [OutboxDelivery] {
        let rows = try await client.query("""
            WITH due AS (
                SELECT o.id FROM notification_outbox o
                WHERE ((o.state = 'pending' AND o.next_attempt_at <= now()) OR (o.state = 'sending' AND o.locked_until < now()))
                  AND NOT EXISTS (
                      SELECT 1 FROM notification_outbox p
                      WHERE p.channel_id = o.channel_id AND p.monitor_id IS NOT DISTINCT FROM o.monitor_id
                        AND p.id < o.id AND p.state IN ('pending', 'sending'))
                ORDER BY o.next_attempt_at, o.id
                LIMIT $2
                FOR UPDATE OF o SKIP LOCKED
            )
            UPDATE notification_outbox o SET state = 'sending', attempts = o.attempts + 1, locked_by = $1,
                locked_until = now() + $3 * interval '1 millisecond'
            FROM due, notification_channels c
            WHERE o.id = due.id AND c.id = o.channel_id
            RETURNING o.id, o.event, o.payload::text, o.attempts, c.id, c.name, c.kind, c.config::text, c.secrets::text, c.enabled
            """, [owner, Int64(limit), lease.components.seconds * 1_000 + lease.components.attoseconds / 1_000_000_000_000_000])
        return try rows.map { row in
            OutboxDelivery(
                id: try row.decode(Int64.self, column: 0), event: try row.decode(String.self, column: 1),
                payloadJSON: try row.decode(String.self, column: 2), attempts: try row.decode(Int.self, column: 3),
                channel: ChannelTarget(
                    id: try row.decode(Int64.self, column: 4), name: try row.decode(String.self, column: 5),
                    kind: try row.decode(String.self, column: 6), configJSON: try row.decode(String.self, column: 7),
                    secretsJSON: try row.decode(String.self, column: 8), enabled: try row.decode(Bool.self, column: 9)))
        }.sorted { $0.id < $1.id }
    }

    /// Settles a claimed row as delivered. False when `owner` no longer held it (its lease ran out
    /// and another sender took it).
    @discardableResult
    public func delivered(id: Int64, owner: String) async throws -> Bool {
        let rows = try await client.query("""
            UPDATE notification_outbox SET state = 'delivered', delivered_at = now(), last_error = NULL,
                locked_by = NULL, locked_until = NULL
            WHERE id = $1 AND locked_by = $2 AND state = 'sending'
            RETURNING id
            """, [id, owner])
        return !rows.isEmpty
    }

    /// Settles a claimed row after a failed attempt: `pending` again at `retryAt`, or `failed`
    /// for good when `retryAt` is nil. `error` must hold no secret.
    @discardableResult
    public func failed(id: Int64, owner: String, error: String, retryAt: Date?) async throws -> Bool {
        let rows = try await client.query("""
            UPDATE notification_outbox SET state = CASE WHEN $3 THEN 'pending' ELSE 'failed' END,
                next_attempt_at = CASE WHEN $3 THEN $4 ELSE next_attempt_at END, last_error = $5,
                locked_by = NULL, locked_until = NULL
            WHERE id = $1 AND locked_by = $2 AND state = 'sending'
            RETURNING id
            """, [id, owner, retryAt != nil, retryAt ?? Date(), String(error.prefix(2_000))])
        return !rows.isEmpty
    }

    /// Queues the reminders that are due: for every open incident of a monitor that is down, every
    /// channel with `config.reminder_interval_ms` that was sent the incident's down notification
    /// gets reminder number n once n whole intervals have passed since that notification. Time
    /// that passed while no sender ran yields one reminder (the latest number), not a burst.
    @discardableResult
    public func queueReminders() async throws -> Int {
        let rows = try await client.query("""
            WITH inserted AS (
                INSERT INTO notification_outbox (channel_id, monitor_id, incident_id, event, dedupe_key, payload)
                SELECT c.id, m.id, i.id, 'reminder', 'reminder:' || i.id || ':' || c.id || ':' || k.n,
                       jsonb_build_object('version', 1, 'event', 'reminder', 'at', \(OutboxSQL.time("now()")),
                           'status', s.status, 'previous_status', s.status, 'message', i.last_message,
                           'reminder', jsonb_build_object('number', k.n, 'interval_ms', (c.config->>'reminder_interval_ms')::bigint),
                           'monitor', \(OutboxSQL.monitorJSON("m")), 'channel', \(OutboxSQL.channelJSON("c")),
                           'incident', \(OutboxSQL.incidentJSON("i", now: "now()")))
                FROM incidents i
                JOIN monitor_state s ON s.monitor_id = i.monitor_id AND s.status = 'down'
                JOIN monitors m ON m.id = i.monitor_id
                JOIN notification_channels c ON \(OutboxSQL.channelTakes("c", monitor: "m")) AND c.config ? 'reminder_interval_ms'
                JOIN LATERAL (
                    SELECT min(d.created_at) AS announced FROM notification_outbox d
                    WHERE d.channel_id = c.id AND d.incident_id = i.id AND d.event = 'down') a ON a.announced IS NOT NULL
                CROSS JOIN LATERAL (
                    SELECT floor(extract(epoch FROM now() - a.announced) * 1000
                                 / (c.config->>'reminder_interval_ms')::bigint)::bigint AS n) k
                WHERE i.ended_at IS NULL AND k.n >= 1 AND \(OutboxSQL.takesEvent("c", event: "'reminder'"))
                ORDER BY i.id, c.id
                ON CONFLICT (dedupe_key) DO NOTHING
                RETURNING 1
            )
            SELECT count(*) FROM inserted
            """)
        return try rows[0].decode(Int.self, column: 0)
    }

    public func list(_ filter: OutboxFilter) async throws -> [OutboxRecord] {
        var conditions: [String] = []
        var binds: [any PostgresEncodable] = []
        func bind(_ value: any PostgresEncodable) -> String {
            binds.append(value)
            return "$\(binds.count)"
        }
        if let channelID = filter.channelID { conditions.append("channel_id = \(bind(channelID))") }
        if let monitorID = filter.monitorID { conditions.append("monitor_id = \(bind(monitorID))") }
        if let state = filter.state { conditions.append("state = \(bind(state))") }
        if let event = filter.event { conditions.append("event = \(bind(event))") }
        if let beforeID = filter.beforeID { conditions.append("id < \(bind(beforeID))") }
        let rows = try await client.query("""
            SELECT id, channel_id, monitor_id, incident_id, event, state, attempts, next_attempt_at, last_error,
                   created_at, delivered_at, payload::text
            FROM notification_outbox
            \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
            ORDER BY id DESC LIMIT \(bind(Int64(filter.limit)))
            """, binds)
        return try rows.map { row in
            OutboxRecord(
                id: try row.decode(Int64.self, column: 0), channelID: try row.decode(Int64.self, column: 1),
                monitorID: try row.decode(Int64?.self, column: 2), incidentID: try row.decode(Int64?.self, column: 3),
                event: try row.decode(String.self, column: 4), state: try row.decode(String.self, column: 5),
                attempts: try row.decode(Int.self, column: 6), nextAttemptAt: try row.decode(Date.self, column: 7),
                lastError: try row.decode(String?.self, column: 8), createdAt: try row.decode(Date.self, column: 9),
                deliveredAt: try row.decode(Date?.self, column: 10), payloadJSON: try row.decode(String.self, column: 11))
        }
    }
}
