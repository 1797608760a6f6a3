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

    /// Inserts the rows (a notice no channel takes adds none).
    func queue(_ connection: PostgresConnection) async throws {
        guard !isEmpty else { return }
        _ = try await connection.query("""
            WITH u AS (
                SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[])
                    WITH ORDINALITY AS u (monitor_id, event, key, payload, incident_us, incident_as_of, ord)
            )
            INSERT INTO notification_outbox (channel_id, monitor_id, incident_id, event, dedupe_key, payload)
            SELECT c.id, m.id, i.id, u.event, u.key || ':' || c.id,
                   u.payload::jsonb || jsonb_build_object('monitor', \(OutboxSQL.monitorJSON("m")),
                                                        'channel', \(OutboxSQL.channelJSON("c")))
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
            """, [monitorIDs, events, keys, payloads, incidentStarts, incidentAsOf])
    }
}

/// SQL shared by everything that writes notifications, so every payload has the same shape.
enum OutboxSQL {
    /// An RFC 3339 UTC text of a timestamptz expression, as the API writes times.
    static func time(_ expression: String) -> String {
        "to_char((\(expression)) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    }

    static func monitorJSON(_ m: String) -> String {
        """
        jsonb_build_object('id', \(m).id, 'namespace', \(m).namespace, 'name', \(m).name, 'kind', \(m).kind,
                           'target', \(m).target, 'tags', to_jsonb(\(m).tags))
        """
    }

    /// A channel as the payload's `channel`: its id and name, never its secrets.
    static func channelJSON(_ c: String) -> String {
        "jsonb_build_object('id', \(c).id, 'name', \(c).name)"
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

/// Certificate-expiry notices: after a batch is stored, the newest result of each monitor that
/// reports a certificate (in `details`) is checked against each channel's
/// `certificate_expiry_days` (default 14, 7, 3 and 1). A channel gets one notice per certificate
/// and per threshold crossed, for the smallest threshold the days left are within; a renewed
/// certificate (another `not_after`) starts over.
///
/// Where the certificate is read, first found first: `details.certificate.earliest_expiry`, then
/// `details.certificate` (pinguin-check-http, and the convention for other plugins), then
/// `details.tls.chain_earliest_expiry` and `details.tls.certificate` (pinguin-check-tcp). Values
/// that are not RFC 3339 times are ignored.
enum CertificateNotices {
    static let defaultDays = "[14, 7, 3, 1]"

    /// Runs in the open transaction, after the batch's rows are in `results_inserted`.
    static func queue(_ connection: PostgresConnection) async throws {
        let rows = try await connection.query("""
            SELECT DISTINCT ON (s.monitor_id) s.monitor_id, (extract(epoch FROM s.scheduled_at) * 1000000)::bigint,
                   coalesce(s.details #>> '{certificate,earliest_expiry,not_after}', s.details #>> '{certificate,not_after}',
                            s.details #>> '{tls,chain_earliest_expiry}', s.details #>> '{tls,certificate,not_after}'),
                   coalesce(s.details #>> '{certificate,earliest_expiry,subject}', s.details #>> '{certificate,subject}',
                            s.details #>> '{tls,certificate,subject}', '')
            FROM results_staging s
            JOIN results_inserted r ON r.monitor_id = s.monitor_id AND r.scheduled_at = s.scheduled_at AND r.location = s.location
            WHERE (s.details ? 'certificate' OR s.details ? 'tls') AND r.status IN ('up', 'degraded', 'down')
            ORDER BY s.monitor_id, s.scheduled_at DESC
            """)
        var monitorIDs: [Int64] = [], ats: [Int64] = [], notAfters: [Int64] = [], texts: [String] = [], days: [Int64] = [], subjects: [String] = []
        for row in rows {
            guard let text = try row.decode(String?.self, column: 2), let notAfter = RFC3339.parse(text) else { continue }
            let at = Date(unixMicroseconds: try row.decode(Int64.self, column: 1))
            monitorIDs.append(try row.decode(Int64.self, column: 0))
            ats.append(at.unixMicroseconds)
            notAfters.append(notAfter.unixMicroseconds)
            texts.append(RFC3339.string(notAfter))
            days.append(Int64((notAfter.timeIntervalSince(at) / 86_400).rounded(.down)))
            subjects.append(try row.decode(String.self, column: 3))
        }
        guard !monitorIDs.isEmpty else { return }
        _ = try await connection.query("""
            INSERT INTO notification_outbox (channel_id, monitor_id, event, dedupe_key, payload)
            SELECT c.id, m.id, 'certificate_expiring',
                   'certificate:' || m.id || ':' || u.not_after_us || ':' || t.threshold || ':' || c.id,
                   jsonb_build_object('version', 1, 'event', 'certificate_expiring',
                       'at', \(OutboxSQL.time("timestamptz 'epoch' + u.at_us * interval '1 microsecond'")),
                       'status', st.status, 'previous_status', st.status,
                       'message', CASE WHEN u.days_left < 0 THEN 'the certificate expired ' || -u.days_left || ' days ago'
                                       ELSE 'the certificate expires in ' || u.days_left || ' days' END
                                  || ' (' || u.not_after_text || ')' || CASE WHEN u.subject = '' THEN '' ELSE ': ' || u.subject END,
                       'certificate', jsonb_build_object('not_after', u.not_after_text, 'days_left', u.days_left,
                                                         'subject', u.subject, 'threshold_days', t.threshold),
                       'monitor', \(OutboxSQL.monitorJSON("m")), 'channel', \(OutboxSQL.channelJSON("c")))
            FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[], $6::text[])
                AS u (monitor_id, at_us, not_after_us, not_after_text, days_left, subject)
            JOIN monitors m ON m.id = u.monitor_id
            JOIN monitor_state st ON st.monitor_id = m.id
            JOIN notification_channels c ON \(OutboxSQL.channelTakes("c", monitor: "m"))
                                         AND \(OutboxSQL.takesEvent("c", event: "'certificate_expiring'"))
            CROSS JOIN LATERAL (
                SELECT min(y.days) AS threshold
                FROM jsonb_array_elements_text(
                    CASE WHEN jsonb_typeof(c.config->'certificate_expiry_days') = 'array' THEN c.config->'certificate_expiry_days'
                         ELSE '\(defaultDays)'::jsonb END) AS x (text),
                     LATERAL (SELECT CASE WHEN x.text ~ '^[0-9]{1,4}$' THEN x.text::int END AS days) y
                WHERE y.days >= u.days_left) t
            WHERE t.threshold IS NOT NULL
            ORDER BY m.id, c.id
            ON CONFLICT (dedupe_key) DO NOTHING
            """, [monitorIDs, ats, notAfters, texts, days, subjects])
    }
}
