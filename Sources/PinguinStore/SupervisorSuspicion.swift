import Foundation
import PinguinModel
import PinguinPostgres

/// Supervisor suspicion (proto-docs/status.md): when most of one supervisor's checks fail at
/// once, the fault is more likely the supervisor's (its network, its host) than every target's.
/// Its results still change statuses and incidents, but their alerts are held back, and one
/// `supervisor_suspect` notification says so instead. When its checks succeed again the
/// suspicion ends with one more notification, and whatever is still true is announced.
///
/// Counted per slot minute: a supervisor is suspected when, in the newest minute of its results
/// (or that minute and the one before, while the newest has fewer than ``minimumChecks``), at
/// least ``minimumChecks`` checks were judged and ``suspectShare`` of them failed (`down` or
/// `unknown`). It is cleared when that share falls below ``clearShare``.
enum SupervisorSuspicion {
    static let minimumChecks = 10
    static let suspectShare = 0.8
    static let clearShare = 0.5

    /// Runs in the open transaction, after the batch's rows are in `results_inserted`; returns the
    /// supervisors suspected now (their results are judged with alerts held).
    static func update(_ connection: PostgresConnection) async throws -> Set<String> {
        // Each database session counts into rows of its own: ingesters never wait on each other here.
        _ = try await connection.query("""
            INSERT INTO supervisor_checks AS c (supervisor, minute, writer, checks, failures)
            SELECT supervisor, date_trunc('minute', scheduled_at), pg_backend_pid(), count(*),
                   count(*) FILTER (WHERE status IN ('down', 'unknown'))
            FROM results_inserted
            WHERE coalesce(supervisor, '') <> '' AND status IN ('up', 'degraded', 'down', 'unknown')
            GROUP BY 1, 2 ORDER BY 1, 2
            ON CONFLICT (supervisor, minute, writer) DO UPDATE SET checks = c.checks + excluded.checks,
                failures = c.failures + excluded.failures
            """)
        let rows = try await connection.query("""
            WITH batch AS (
                SELECT supervisor, date_trunc('minute', max(scheduled_at)) AS newest
                FROM results_inserted WHERE coalesce(supervisor, '') <> '' GROUP BY supervisor
            )
            SELECT b.supervisor,
                   coalesce(sum(c.checks) FILTER (WHERE c.minute = b.newest), 0)::bigint,
                   coalesce(sum(c.failures) FILTER (WHERE c.minute = b.newest), 0)::bigint,
                   coalesce(sum(c.checks), 0)::bigint, coalesce(sum(c.failures), 0)::bigint,
                   (SELECT s.supervisor IS NOT NULL FROM supervisor_suspicions s WHERE s.supervisor = b.supervisor)
            FROM batch b
            LEFT JOIN supervisor_checks c ON c.supervisor = b.supervisor AND c.minute BETWEEN b.newest - interval '1 minute' AND b.newest
            GROUP BY b.supervisor, b.newest
            ORDER BY b.supervisor
            """)
        var suspected: Set<String> = []
        for row in rows {
            let supervisor = try row.decode(String.self, column: 0)
            let newest = (checks: try row.decode(Int.self, column: 1), failures: try row.decode(Int.self, column: 2))
            let both = (checks: try row.decode(Int.self, column: 3), failures: try row.decode(Int.self, column: 4))
            var isSuspected = try row.decode(Bool?.self, column: 5) ?? false
            let counted = newest.checks >= minimumChecks ? newest : both
            if counted.checks >= minimumChecks {
                let share = Double(counted.failures) / Double(counted.checks)
                if !isSuspected, share >= suspectShare {
                    let started = try await connection.query("""
                        INSERT INTO supervisor_suspicions (supervisor, since, checks, failures) VALUES ($1, now(), $2, $3)
                        ON CONFLICT (supervisor) DO NOTHING RETURNING (extract(epoch FROM since) * 1000000)::bigint
                        """, [supervisor, Int64(counted.checks), Int64(counted.failures)])
                    isSuspected = true
                    if let since = try started.first?.decode(Int64.self, column: 0) {
                        try await notify(connection, supervisor: supervisor, state: "started", since: since, counted: counted)
                    }
                } else if isSuspected, share < clearShare {
                    let ended = try await connection.query(
                        "DELETE FROM supervisor_suspicions WHERE supervisor = $1 RETURNING (extract(epoch FROM since) * 1000000)::bigint", [supervisor])
                    isSuspected = false
                    if let since = try ended.first?.decode(Int64.self, column: 0) {
                        try await notify(connection, supervisor: supervisor, state: "cleared", since: since, counted: counted)
                    }
                }
            }
            if isSuspected { suspected.insert(supervisor) }
        }
        // Counters an hour older than the batch's newest slot are of no more use (this session's;
        // anyone's a day older, left by sessions that ended).
        _ = try await connection.query("""
            WITH newest AS (SELECT max(scheduled_at) AS at FROM results_inserted)
            DELETE FROM supervisor_checks USING newest
            WHERE (writer = pg_backend_pid() AND minute < newest.at - interval '1 hour') OR minute < newest.at - interval '1 day'
            """)
        return suspected
    }

    /// One notification per channel that takes `supervisor_suspect` and alerts for at least one of
    /// the monitors the supervisor checked in this batch.
    private static func notify(
        _ connection: PostgresConnection, supervisor: String, state: String, since: Int64, counted: (checks: Int, failures: Int)
    ) async throws {
        let message = state == "started"
            ? "\(counted.failures) of \(counted.checks) checks by supervisor \(supervisor) failed at once: its own network or host is the likelier fault; alerts from its checks are held back until they succeed again"
            : "checks by supervisor \(supervisor) succeed again (\(counted.failures) of \(counted.checks) failed); what is still true after the held alerts is announced"
        _ = try await connection.query("""
            INSERT INTO notification_outbox (channel_id, event, dedupe_key, payload)
            SELECT c.id, 'supervisor_suspect', 'supervisor:' || $1 || ':' || $2::bigint || ':' || $3 || ':' || c.id,
                   jsonb_build_object('version', 1, 'event', 'supervisor_suspect', 'at', \(OutboxSQL.time("now()")),
                       'status', NULL, 'previous_status', NULL, 'message', $4::text,
                       'supervisor', jsonb_build_object('name', $1::text, 'state', $3::text,
                           'since', \(OutboxSQL.time("timestamptz 'epoch' + $2::bigint * interval '1 microsecond'")),
                           'checks', $5::bigint, 'failures', $6::bigint),
                       'channel', \(OutboxSQL.channelJSON("c")))
            FROM notification_channels c
            WHERE \(OutboxSQL.takesEvent("c", event: "'supervisor_suspect'"))
              AND EXISTS (SELECT 1 FROM results_inserted r JOIN monitors m ON m.id = r.monitor_id
                          WHERE r.supervisor = $1 AND \(OutboxSQL.channelTakes("c", monitor: "m")))
            ORDER BY c.id
            ON CONFLICT (dedupe_key) DO NOTHING
            """, [supervisor, since, state, message, Int64(counted.checks), Int64(counted.failures)])
    }
}
