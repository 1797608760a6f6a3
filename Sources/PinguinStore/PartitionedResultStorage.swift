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
        do {
            return try await writeOnce(batch)
        } catch let error as PostgresError where error.sqlState == "23514" && error.message.contains("no partition") {
            // Another process's retention pass dropped a partition this one believed in: forget
            // what we knew, let the retry create it again.
            knownDays.withLock { $0.removeAll() }
            return try await writeOnce(batch)
        }
    }

    private func writeOnce(_ batch: [CheckResult]) async throws -> ResultWriteOutcome {
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
            let decided: StatusEngineStore.Decisions
            do {
                try await connection.copy("COPY results_staging (\(Self.columns)) FROM STDIN (FORMAT binary)", batch: staged)
                try await connection.execute(script: Self.storeBatch)
                // The status engine decides in the same transaction: a result is never stored
                // without its effect on the monitor's status and incidents, nor the other way round.
                decided = try await StatusEngineStore.apply(connection)
                try await connection.execute(script: "COMMIT")
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
            return ResultWriteOutcome(inserted: inserted, duplicates: batch.count - inserted - orphans, orphans: orphans,
                                      statusChanges: decided.changes, incidentUpdates: decided.incidents, failing: decided.failing)
        }
    }

    /// Session-local staging tables, emptied, then the transaction begins.
    static let prepareBatch = """
        CREATE TEMP TABLE IF NOT EXISTS results_staging (LIKE results INCLUDING DEFAULTS);
        CREATE TEMP TABLE IF NOT EXISTS results_inserted (monitor_id bigint, scheduled_at timestamptz,
            location text, status text, slot_ms integer, latency_ms double precision, message text, supervisor text);
        TRUNCATE results_staging, results_inserted;
        BEGIN;
        SELECT complete_through FROM results_rollup_state FOR SHARE;
        """

    /// Inserts what is new (skipping stored slots and deleted monitors), adds exactly the new rows
    /// to the minute rollup, to any coarser rollup already built for their period, and to
    /// `monitor_state`; the status engine runs next, then the transaction commits. Rows go in key order so that two ingesters lock shared rollup
    /// rows in the same order.
    static let storeBatch: String = {
        var sql = """
            WITH new AS (
                INSERT INTO results (\(columns))
                SELECT \(columns) FROM results_staging s
                WHERE EXISTS (SELECT 1 FROM monitors m WHERE m.id = s.monitor_id)
                ORDER BY monitor_id, scheduled_at, location
                ON CONFLICT (monitor_id, scheduled_at, location) DO NOTHING
                RETURNING monitor_id, scheduled_at, location, status, slot_ms, latency_ms, message, supervisor
            )
            INSERT INTO results_inserted SELECT * FROM new;

            """
        sql += rollupUpsert(into: "results_rollup_1m", unit: "minute", from: "results_inserted", adding: true)
        for level in RollupLevel.built {
            sql += rollupUpsert(
                into: level.table, unit: level.unit,
                from: "results_inserted WHERE scheduled_at < (SELECT complete_through FROM results_rollup_state WHERE name = '\(level.name)')",
                adding: true)
        }
        sql += """
            INSERT INTO monitor_state AS st (monitor_id, last_scheduled_at, last_status, last_latency_ms, last_message, updated_at)
            SELECT DISTINCT ON (monitor_id) monitor_id, scheduled_at, status, latency_ms, message, now()
            FROM results_inserted ORDER BY monitor_id, scheduled_at DESC
            ON CONFLICT (monitor_id) DO UPDATE SET
                last_scheduled_at = excluded.last_scheduled_at, last_status = excluded.last_status,
                last_latency_ms = excluded.last_latency_ms, last_message = excluded.last_message, updated_at = now()
            WHERE st.last_scheduled_at IS NULL OR st.last_scheduled_at <= excluded.last_scheduled_at;
            """
        return sql
    }()

    /// `INSERT … ON CONFLICT` that adds (or, with `adding: false`, replaces) rollup rows summed
    /// from `source`, which has the columns of `results_inserted` or of a rollup (`fromRollup`).
    static func rollupUpsert(into table: String, unit: String, from source: String, adding: Bool, fromRollup: Bool = false) -> String {
        let counters = ["checks", "up_checks", "degraded_checks", "down_checks", "unknown_checks", "maintenance_checks",
                        "other_checks", "up_ms", "down_ms", "excluded_ms", "latency_count", "latency_sum"]
        let select: String
        if fromRollup {
            select = "monitor_id, date_trunc('\(unit)', bucket, 'UTC'), " + counters.map { "sum(\($0))" }.joined(separator: ", ")
                + ", min(latency_min), max(latency_max)"
        } else {
            select = """
                monitor_id, date_trunc('\(unit)', scheduled_at, 'UTC'), count(*),
                    count(*) FILTER (WHERE status = 'up'), count(*) FILTER (WHERE status = 'degraded'),
                    count(*) FILTER (WHERE status = 'down'), count(*) FILTER (WHERE status = 'unknown'),
                    count(*) FILTER (WHERE status = 'maintenance'), count(*) FILTER (WHERE status IN ('paused', 'skipped')),
                    coalesce(sum(slot_ms) FILTER (WHERE status IN ('up', 'degraded')), 0),
                    coalesce(sum(slot_ms) FILTER (WHERE status = 'down'), 0),
                    coalesce(sum(slot_ms) FILTER (WHERE status NOT IN ('up', 'degraded', 'down')), 0),
                    count(latency_ms), coalesce(sum(latency_ms), 0), min(latency_ms), max(latency_ms)
                """
        }
        let updates = counters.map { adding ? "\($0) = r.\($0) + excluded.\($0)" : "\($0) = excluded.\($0)" }
            + (adding
                ? ["latency_min = least(r.latency_min, excluded.latency_min)", "latency_max = greatest(r.latency_max, excluded.latency_max)"]
                : ["latency_min = excluded.latency_min", "latency_max = excluded.latency_max"])
        return """
            INSERT INTO \(table) AS r (monitor_id, bucket, \(counters.joined(separator: ", ")), latency_min, latency_max)
            SELECT \(select)
            FROM \(source) GROUP BY 1, 2 ORDER BY 1, 2
            ON CONFLICT (monitor_id, bucket) DO UPDATE SET \(updates.joined(separator: ", "));

            """
    }

    /// Builds every level (hours, then days, then months) up to the last period that is over,
    /// from the next finer level, and moves each level's watermark. Returns the rows written.
    public func buildRollups(now: Date) async throws -> Int {
        var written = 0
        for level in RollupLevel.built {
            written += try await build(level, now: now)
        }
        return written
    }

    /// One level. The `FOR UPDATE` on the level's watermark waits for batches in flight (they hold
    /// it `FOR SHARE`), so no committed finer row is missed and no later batch misses the new
    /// watermark. A level never passes its source's watermark, nor `now` less a grace period that
    /// lets results of the last slots arrive before their period is summed.
    private func build(_ level: RollupLevel, now: Date) async throws -> Int {
        try await client.withTransaction { connection in
            let rows = try await connection.query("""
                SELECT complete_through,
                       date_trunc($2, least($1::timestamptz - interval '2 minutes',
                           coalesce((SELECT complete_through FROM results_rollup_state WHERE name = $3), 'infinity')), 'UTC')
                FROM results_rollup_state WHERE name = $4 FOR UPDATE
                """, [now, level.unit, level.sourceName ?? "", level.name])
            let through = try rows[0].decode(Date.self, column: 0)
            let target = try rows[0].decode(Date.self, column: 1)
            guard through < target else { return 0 }
            let written = try await connection.query(
                Self.rollupUpsert(into: level.table, unit: level.unit,
                                  from: "\(level.sourceTable) WHERE bucket >= $1 AND bucket < $2", adding: false, fromRollup: true),
                [through, target]).affectedRows
            try await connection.query("UPDATE results_rollup_state SET complete_through = $1 WHERE name = $2", [target, level.name])
            return written
        }
    }

    /// How far each built level is complete.
    func rollupWatermarks() async throws -> [String: Date] {
        let rows = try await client.query("SELECT name, complete_through FROM results_rollup_state")
        var marks: [String: Date] = [:]
        for row in rows {
            marks[try row.decode(String.self, column: 0)] = try row.decode(Date.self, column: 1)
        }
        return marks
    }

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
        // Build coarser rollups before retention drops the minutes they are built from.
        let built = try await buildRollups(now: now)
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
        if created + dropped + deleted + built > 0 {
            logger.info("result storage maintained", metadata: [
                "storage.partitions_created": "\(created)", "storage.partitions_dropped": "\(dropped)",
                "storage.rollup_rows_deleted": "\(deleted)", "storage.rollup_rows_built": "\(built)",
            ])
        }
        return MaintenanceReport(partitionsCreated: created, partitionsDropped: dropped, rollupRowsDeleted: deleted, rollupRowsBuilt: built)
    }
}

/// A rollup level built from the next finer one once its periods are over.
struct RollupLevel: Sendable {
    var name: String
    var unit: String
    var table: String
    var sourceTable: String
    /// The source level's watermark name; nil for minutes, which are always complete.
    var sourceName: String?

    static let hour = RollupLevel(name: "1h", unit: "hour", table: "results_rollup_1h", sourceTable: "results_rollup_1m", sourceName: nil)
    static let day = RollupLevel(name: "1d", unit: "day", table: "results_rollup_1d", sourceTable: "results_rollup_1h", sourceName: "1h")
    static let month = RollupLevel(name: "1mo", unit: "month", table: "results_rollup_1mo", sourceTable: "results_rollup_1d", sourceName: "1d")
    /// In build order: each from the one before.
    static let built = [hour, day, month]
}
