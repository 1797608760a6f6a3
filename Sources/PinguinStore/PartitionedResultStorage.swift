public import Foundation
public import Logging
public import PinguinModel
public import PinguinPostgres
import Synchronization

/// Results on plain PostgreSQL: `results` is range-partitioned by day (UTC), and the rollup
/// tables `results_rollup_1m/1h/1d` are kept in the same transaction as the rows they sum, so
/// uptime over any range is exact and cheap.
public final class PartitionedResultStorage: ResultStorage {
    public let client: PostgresClient
    let logger: Logger
    /// UTC days (days since 1970) whose partitions are known to exist.
    private let knownDays = Mutex<Set<Int>>([])

    public var engine: StorageEngine { .nativePartitioning }

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    // MARK: Writing

    static let columns = "monitor_id, scheduled_at, location, status, slot_ms, started_at, finished_at, latency_ms, message, phases, details, supervisor"

    public func write(_ batch: [CheckResult]) async throws -> ResultWriteOutcome {
        guard !batch.isEmpty else { return ResultWriteOutcome(inserted: 0, duplicates: 0, orphans: 0) }
        try await ensurePartitions(for: batch)
        var copy = PostgresCopyBatch(columnCount: 12, reservingBytes: batch.count * 160)
        for result in batch {
            try copy.appendRow(
                result.monitorID, result.scheduledAt, result.location, result.status.rawValue, result.slotMilliseconds,
                result.startedAt, result.finishedAt, result.latencyMilliseconds, result.message,
                PostgresJSONB(text: result.phases), PostgresJSONB(text: result.details), result.supervisor)
        }
        let staged = copy
        return try await client.withConnection { connection in
            try await connection.execute(script: Self.prepareBatch)
            do {
                try await connection.copy("COPY results_staging (\(Self.columns)) FROM STDIN (FORMAT binary)", batch: staged)
                try await connection.execute(script: Self.storeBatch)
            } catch {
                _ = try? await connection.execute(script: "ROLLBACK")
                throw error
            }
            let counts = try await connection.query("""
                SELECT (SELECT count(*) FROM results_inserted), (SELECT count(*) FROM results_staging s
                        WHERE NOT EXISTS (SELECT 1 FROM monitors m WHERE m.id = s.monitor_id))
                """)
            let inserted = try counts[0].decode(Int.self, column: 0)
            let orphans = try counts[0].decode(Int.self, column: 1)
            return ResultWriteOutcome(inserted: inserted, duplicates: batch.count - inserted - orphans, orphans: orphans)
        }
    }

    /// Session-local staging tables, emptied, then the transaction begins.
    static let prepareBatch = """
        CREATE TEMP TABLE IF NOT EXISTS results_staging (LIKE results INCLUDING DEFAULTS);
        CREATE TEMP TABLE IF NOT EXISTS results_inserted (monitor_id bigint, scheduled_at timestamptz,
            location text, status text, slot_ms integer, latency_ms double precision, message text);
        TRUNCATE results_staging, results_inserted;
        BEGIN;
        """

    /// Inserts what is new (skipping stored slots and deleted monitors), then adds exactly the
    /// new rows to each rollup and to `monitor_state`, and commits. Rows go in key order so that
    /// two ingesters lock shared rollup rows in the same order.
    static let storeBatch: String = {
        var sql = """
            WITH new AS (
                INSERT INTO results (\(columns))
                SELECT \(columns) FROM results_staging s
                WHERE EXISTS (SELECT 1 FROM monitors m WHERE m.id = s.monitor_id)
                ORDER BY monitor_id, scheduled_at, location
                ON CONFLICT (monitor_id, scheduled_at, location) DO NOTHING
                RETURNING monitor_id, scheduled_at, location, status, slot_ms, latency_ms, message
            )
            INSERT INTO results_inserted SELECT * FROM new;

            """
        for (table, unit) in [("results_rollup_1m", "minute"), ("results_rollup_1h", "hour"), ("results_rollup_1d", "day")] {
            sql += """
                INSERT INTO \(table) AS r (monitor_id, bucket, checks, up_checks, degraded_checks, down_checks,
                    unknown_checks, maintenance_checks, other_checks, up_ms, down_ms, excluded_ms,
                    latency_count, latency_sum, latency_min, latency_max)
                SELECT monitor_id, date_trunc('\(unit)', scheduled_at, 'UTC'), count(*),
                    count(*) FILTER (WHERE status = 'up'), count(*) FILTER (WHERE status = 'degraded'),
                    count(*) FILTER (WHERE status = 'down'), count(*) FILTER (WHERE status = 'unknown'),
                    count(*) FILTER (WHERE status = 'maintenance'), count(*) FILTER (WHERE status IN ('paused', 'skipped')),
                    coalesce(sum(slot_ms) FILTER (WHERE status IN ('up', 'degraded')), 0),
                    coalesce(sum(slot_ms) FILTER (WHERE status = 'down'), 0),
                    coalesce(sum(slot_ms) FILTER (WHERE status NOT IN ('up', 'degraded', 'down')), 0),
                    count(latency_ms), coalesce(sum(latency_ms), 0), min(latency_ms), max(latency_ms)
                FROM results_inserted GROUP BY 1, 2 ORDER BY 1, 2
                ON CONFLICT (monitor_id, bucket) DO UPDATE SET
                    checks = r.checks + excluded.checks, up_checks = r.up_checks + excluded.up_checks,
                    degraded_checks = r.degraded_checks + excluded.degraded_checks,
                    down_checks = r.down_checks + excluded.down_checks,
                    unknown_checks = r.unknown_checks + excluded.unknown_checks,
                    maintenance_checks = r.maintenance_checks + excluded.maintenance_checks,
                    other_checks = r.other_checks + excluded.other_checks,
                    up_ms = r.up_ms + excluded.up_ms, down_ms = r.down_ms + excluded.down_ms,
                    excluded_ms = r.excluded_ms + excluded.excluded_ms,
                    latency_count = r.latency_count + excluded.latency_count,
                    latency_sum = r.latency_sum + excluded.latency_sum,
                    latency_min = least(r.latency_min, excluded.latency_min),
                    latency_max = greatest(r.latency_max, excluded.latency_max);

                """
        }
        sql += """
            INSERT INTO monitor_state AS st (monitor_id, last_scheduled_at, last_status, last_latency_ms, last_message, updated_at)
            SELECT DISTINCT ON (monitor_id) monitor_id, scheduled_at, status, latency_ms, message, now()
            FROM results_inserted ORDER BY monitor_id, scheduled_at DESC
            ON CONFLICT (monitor_id) DO UPDATE SET
                last_scheduled_at = excluded.last_scheduled_at, last_status = excluded.last_status,
                last_latency_ms = excluded.last_latency_ms, last_message = excluded.last_message, updated_at = now()
            WHERE st.last_scheduled_at IS NULL OR st.last_scheduled_at <= excluded.last_scheduled_at;
            COMMIT;
            """
        return sql
    }()

    private func ensurePartitions(for batch: [CheckResult]) async throws {
        let days = Set(batch.map { Self.utcDay($0.scheduledAt) })
        let missing = knownDays.withLock { days.subtracting($0) }
        guard let first = missing.min(), let last = missing.max() else { return }
        try await createPartitions(firstDay: first, lastDay: last)
    }

    @discardableResult
    private func createPartitions(firstDay: Int, lastDay: Int) async throws -> Int {
        var created = 0
        for table in ["results", "results_rollup_1m"] {
            let rows = try await client.query(
                "SELECT pinguin_ensure_daily_partitions($1::regclass, $2::date, $3::date)",
                [table, Self.dayString(firstDay), Self.dayString(lastDay)])
            created += Int(try rows[0].decode(Int32.self, column: 0))
        }
        knownDays.withLock { $0.formUnion(firstDay...lastDay) }
        return created
    }

    static func utcDay(_ date: Date) -> Int {
        Int((date.timeIntervalSince1970 / 86_400).rounded(.down))
    }

    static func dayString(_ day: Int) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: Double(day) * 86_400))
    }

    // MARK: Maintenance

    public func maintain(now: Date, retention: RetentionPolicy) async throws -> MaintenanceReport {
        let today = Self.utcDay(now)
        let created = try await createPartitions(firstDay: today - 1, lastDay: today + retention.partitionsAhead)
        var dropped = 0
        for (table, days) in [("results", retention.resultDays), ("results_rollup_1m", retention.minuteRollupDays)] {
            let rows = try await client.query(
                "SELECT pinguin_drop_daily_partitions_before($1::regclass, $2::date)", [table, Self.dayString(today - days)])
            dropped += Int(try rows[0].decode(Int32.self, column: 0))
        }
        knownDays.withLock { days in days = days.filter { $0 >= today - retention.resultDays } }
        var deleted = 0
        var plain: [(String, Int)] = [("results_rollup_1h", retention.hourRollupDays)]
        if let days = retention.dayRollupDays { plain.append(("results_rollup_1d", days)) }
        for (table, days) in plain {
            let cutoff = Date(timeIntervalSince1970: Double(today - days) * 86_400)
            deleted += try await client.query("DELETE FROM \(table) WHERE bucket < $1", [cutoff]).affectedRows
        }
        if created + dropped + deleted > 0 {
            logger.info("result storage maintained", metadata: [
                "storage.partitions_created": "\(created)", "storage.partitions_dropped": "\(dropped)",
                "storage.rollup_rows_deleted": "\(deleted)",
            ])
        }
        return MaintenanceReport(partitionsCreated: created, partitionsDropped: dropped, rollupRowsDeleted: deleted)
    }
}
