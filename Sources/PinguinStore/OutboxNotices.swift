import Foundation
import PinguinModel
import PinguinPostgres
import PinguinWire

/// The status engine's notices of one batch, on their way into `notification_outbox`: one row
/// per notice and per enabled channel of the monitor that takes the notice's event, written in
/// the transaction that decides the status change (proto-docs/notifications.md).
///
/// The dedupe key is the event, the monitor, the slot and the channel: a slot is judged once
/// (the engine ignores a slot that is not newer than the last), and should two writers still
/// reach the same notice, the unique key keeps one.
struct OutboxNotices {
    private var monitorIDs: [Int64] = []
    private var events: [String] = []
    private var keys: [String] = []
    private var payloads: [String] = []
    private var incidentStarts: [Int64] = []
    /// What the payload's `incident` says as of the notice, over the row as the batch leaves it
    /// (a later result of the same batch may have closed it or added failed checks).
    private var incidentAsOf: [String] = []

    var isEmpty: Bool { monitorIDs.isEmpty }

    mutating func add(
        _ notice: StatusNotice, monitorID: Int64, at: Date, message: String, from: MonitorStatus, to: MonitorStatus,
        closedIncidentStartedAt: Date?, failedChecks: Int?
    ) {
        var payload = JSONObject()
        let event: String
        var incidentStart: Date?
        var text = message
        var extra: (String, JSONValue)?
        var asOf = JSONObject()
        switch notice {
        case .down(let since, let first):
            event = "down"
            text = first
            incidentStart = since
            asOf.append("ended_at", .null)
            asOf.append("duration_seconds", .double((at.timeIntervalSince(since) * 1000).rounded() / 1000))
            if let failedChecks { asOf.append("failed_checks", .int(failedChecks)) }
        case .up(let outage):
            event = "up"
            // The incident the monitor recovered from, when the recovery closed one.
            if outage != nil { incidentStart = closedIncidentStartedAt }
            if let outage { extra = ("outage_seconds", .double((outage * 1000).rounded() / 1000)) }
        case .degraded(let reason):
            event = "degraded"
            text = reason
        case .flappingStarted(let percent, _), .flappingStopped(let percent, _):
            event = "flapping"
            var flapping = JSONObject()
            if case .flappingStarted = notice {
                flapping.append("state", .string("started"))
            } else {
                flapping.append("state", .string("stopped"))
            }
            flapping.append("percent", .double((percent * 10).rounded() / 10))
            extra = ("flapping", .object(flapping))
        }
        payload.append("version", .int(1))
        payload.append("event", .string(event))
        payload.append("at", .string(RFC3339.string(at)))
        payload.append("status", .string(to.rawValue))
        payload.append("previous_status", .string(from.rawValue))
        payload.append("message", .string(text))
        if let extra { payload.append(extra.0, extra.1) }
        monitorIDs.append(monitorID)
        events.append(event)
        keys.append("\(event):\(monitorID):\(at.unixMicroseconds)")
        payloads.append(JSONWriter.string(.object(payload)))
        incidentStarts.append(incidentStart?.unixMicroseconds ?? -1)
        incidentAsOf.append(JSONWriter.string(.object(asOf)))
    }

    /// Inserts the rows; returns how many (a notice no channel takes adds none).
    func queue(_ connection: PostgresConnection) async throws -> Int {
        guard !isEmpty else { return 0 }
        let rows = try await connection.query("""
            WITH u AS (
                SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[])
                    WITH ORDINALITY AS u (monitor_id, event, key, payload, incident_us, incident_as_of, ord)
            ), inserted AS (
                INSERT INTO notification_outbox (channel_id, monitor_id, incident_id, event, dedupe_key, payload)
                SELECT c.id, m.id, i.id, u.event, u.key || ':' || c.id,
                       u.payload::jsonb || jsonb_build_object('monitor', \(OutboxSQL.monitorJSON("m")),
                                                            'channel', jsonb_build_object('id', c.id, 'name', c.name))
                       || CASE WHEN i.id IS NULL THEN '{}'::jsonb
                               ELSE jsonb_build_object('incident', \(OutboxSQL.incidentJSON("i", now: "(u.payload::jsonb->>'at')::timestamptz"))
                                                               || u.incident_as_of::jsonb) END
                FROM u
                JOIN monitors m ON m.id = u.monitor_id
                JOIN notification_channels c ON \(OutboxSQL.channelTakes("c", monitor: "m"))
                LEFT JOIN LATERAL (
                    SELECT * FROM incidents x
                    WHERE u.incident_us >= 0 AND x.monitor_id = u.monitor_id
                      AND x.started_at = timestamptz 'epoch' + u.incident_us * interval '1 microsecond'
                    ORDER BY x.id DESC LIMIT 1) i ON true
                WHERE \(OutboxSQL.takesEvent("c", event: "u.event"))
                ORDER BY u.ord, c.id
                ON CONFLICT (dedupe_key) DO NOTHING
                RETURNING 1
            )
            SELECT count(*) FROM inserted
            """, [monitorIDs, events, keys, payloads, incidentStarts, incidentAsOf])
        return try rows[0].decode(Int.self, column: 0)
    }
}

/// SQL shared by everything that writes notifications, so every payload has the same shape.
enum OutboxSQL {
    /// An RFC 3339 UTC text of a timestamptz expression, as the API writes times.
    static func time(_ expression: String) -> String {
        "to_char(\(expression) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    }

    static func monitorJSON(_ m: String) -> String {
        """
        jsonb_build_object('id', \(m).id, 'namespace', \(m).namespace, 'name', \(m).name, 'kind', \(m).kind,
                           'target', \(m).target, 'tags', to_jsonb(\(m).tags))
        """
    }

    /// An incident row as the payload's `incident`; its duration runs to `now` while it is open.
    static func incidentJSON(_ i: String, now: String) -> String {
        """
        jsonb_build_object('id', \(i).id, 'started_at', \(time("\(i).started_at")),
                           'ended_at', CASE WHEN \(i).ended_at IS NULL THEN NULL ELSE \(time("\(i).ended_at")) END,
                           'duration_seconds', round(extract(epoch FROM coalesce(\(i).ended_at, \(now)) - \(i).started_at)::numeric, 3),
                           'failed_checks', \(i).failed_checks, 'first_message', \(i).first_message)
        """
    }

    /// Whether channel `c` is enabled and alerts for monitor `m`: linked to it, or linked to no
    /// monitor at all and in the monitor's namespace (a channel for everything there).
    static func channelTakes(_ c: String, monitor m: String) -> String {
        """
        (\(c).enabled AND (EXISTS (SELECT 1 FROM monitor_channels l WHERE l.channel_id = \(c).id AND l.monitor_id = \(m).id)
                          OR (\(c).namespace = \(m).namespace AND NOT EXISTS (SELECT 1 FROM monitor_channels l WHERE l.channel_id = \(c).id))))
        """
    }

    /// Whether channel `c` takes `event`: its `config.events` lists it, or it has none (all events).
    static func takesEvent(_ c: String, event: String) -> String {
        "(NOT (\(c).config ? 'events') OR \(c).config->'events' ? \(event))"
    }
}
