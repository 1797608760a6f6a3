public import Foundation
import PinguinModel
import PinguinPostgres

extension PartitionedResultStorage {
    public func results(monitorID: Int64, from: Date, to: Date, limit: Int, before: ResultCursor?) async throws -> ResultPage {
        guard (1...10_000).contains(limit) else {
            throw StoreError(code: .invalidArgument, message: "limit must be 1…10000, not \(limit)")
        }
        var sql = """
            SELECT monitor_id, scheduled_at, location, status, slot_ms, started_at, finished_at, latency_ms,
                   message, phases::text, details::text, supervisor
            FROM results WHERE monitor_id = $1 AND scheduled_at >= $2 AND scheduled_at < $3
            """
        var binds: [any PostgresEncodable] = [monitorID, from, to]
        if let before {
            sql += " AND (scheduled_at, location) < ($4, $5)"
            binds += [before.scheduledAt, before.location]
        }
        sql += " ORDER BY scheduled_at DESC, location DESC LIMIT \(limit + 1)"
        let rows = try await client.query(sql, binds)
        var results: [CheckResult] = []
        for row in rows.prefix(limit) {
            let statusText = try row.decode(String.self, column: 3)
            guard let status = CheckStatus(rawValue: statusText) else {
                throw StoreError(code: .schemaMismatch, message: "stored status \"\(statusText)\" is unknown")
            }
            results.append(CheckResult(
                monitorID: try row.decode(Int64.self, column: 0), scheduledAt: try row.decode(Date.self, column: 1),
                location: try row.decode(String.self, column: 2), status: status,
                slotMilliseconds: try row.decode(Int32.self, column: 4), startedAt: try row.decode(Date?.self, column: 5),
                finishedAt: try row.decode(Date?.self, column: 6), latencyMilliseconds: try row.decode(Double?.self, column: 7),
                message: try row.decode(String.self, column: 8), phases: try row.decode(String.self, column: 9),
                details: try row.decode(String.self, column: 10), supervisor: try row.decode(String?.self, column: 11)))
        }
        let next = rows.count > limit ? results.last.map { ResultCursor(scheduledAt: $0.scheduledAt, location: $0.location) } : nil
        return ResultPage(results: results, next: next)
    }

    public func uptime(monitorIDs: [Int64]?, from: Date, to: Date) async throws -> [Int64: Uptime] {
        guard from < to else { throw StoreError(code: .invalidArgument, message: "the range's start must be before its end") }
        var parts: [String] = []
        var binds: [any PostgresEncodable] = [monitorIDs ?? []]
        let filter = monitorIDs == nil ? "" : " AND monitor_id = ANY($1)"
        let marks = try await rollupWatermarks()
        let built: [UptimeSegments.Source: Date] = [
            .hour: marks["1h"] ?? .distantPast, .day: marks["1d"] ?? .distantPast, .month: marks["1mo"] ?? .distantPast,
        ]
        for segment in UptimeSegments.split(from: from, to: to, builtThrough: built) {
            binds += [segment.from, segment.to]
            let low = binds.count - 1, high = binds.count
            switch segment.source {
            case .raw:
                parts.append("""
                    SELECT monitor_id,
                        CASE WHEN status IN ('up', 'degraded') THEN slot_ms ELSE 0 END AS up_ms,
                        CASE WHEN status = 'down' THEN slot_ms ELSE 0 END AS down_ms,
                        CASE WHEN status NOT IN ('up', 'degraded', 'down') THEN slot_ms ELSE 0 END AS excluded_ms,
                        1 AS checks
                    FROM results WHERE scheduled_at >= $\(low) AND scheduled_at < $\(high)\(filter)
                    """)
            case .minute, .hour, .day, .month:
                parts.append("""
                    SELECT monitor_id, up_ms, down_ms, excluded_ms, checks FROM \(segment.source.table)
                    WHERE bucket >= $\(low) AND bucket < $\(high)\(filter)
                    """)
            }
        }
        let sql = """
            SELECT monitor_id, sum(up_ms)::bigint, sum(down_ms)::bigint, sum(excluded_ms)::bigint, sum(checks)::bigint
            FROM (\(parts.joined(separator: "\nUNION ALL\n"))) s GROUP BY monitor_id
            """
        let rows = try await client.query(sql, binds)
        var uptime: [Int64: Uptime] = [:]
        for row in rows {
            let id = try row.decode(Int64.self, column: 0)
            uptime[id] = Uptime(
                monitorID: id, upMilliseconds: try row.decode(Int64.self, column: 1),
                downMilliseconds: try row.decode(Int64.self, column: 2),
                excludedMilliseconds: try row.decode(Int64.self, column: 3), checks: try row.decode(Int64.self, column: 4))
        }
        return uptime
    }

    public func latency(monitorID: Int64, from: Date, to: Date) async throws -> LatencySummary {
        let rows = try await client.query("""
            SELECT count(latency_ms), min(latency_ms), max(latency_ms), avg(latency_ms),
                   percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY latency_ms)
            FROM results
            WHERE monitor_id = $1 AND scheduled_at >= $2 AND scheduled_at < $3
              AND status IN ('up', 'down', 'degraded') AND latency_ms IS NOT NULL
            """, [monitorID, from, to])
        let row = rows[0]
        let percentiles = try row.decode([Double]?.self, column: 4) ?? []
        return LatencySummary(
            count: try row.decode(Int.self, column: 0), minimum: try row.decode(Double?.self, column: 1),
            maximum: try row.decode(Double?.self, column: 2), mean: try row.decode(Double?.self, column: 3),
            p50: percentiles.count == 3 ? percentiles[0] : nil, p95: percentiles.count == 3 ? percentiles[1] : nil,
            p99: percentiles.count == 3 ? percentiles[2] : nil)
    }

    public func lastStatus(monitorIDs: [Int64]) async throws -> [Int64: LastStatus] {
        let rows = try await client.query("""
            SELECT monitor_id, last_scheduled_at, last_status, last_latency_ms, coalesce(last_message, '')
            FROM monitor_state WHERE monitor_id = ANY($1) AND last_scheduled_at IS NOT NULL
            """, [monitorIDs])
        var statuses: [Int64: LastStatus] = [:]
        for row in rows {
            let id = try row.decode(Int64.self, column: 0)
            guard let status = CheckStatus(rawValue: try row.decode(String.self, column: 2)) else { continue }
            statuses[id] = LastStatus(
                monitorID: id, scheduledAt: try row.decode(Date.self, column: 1), status: status,
                latencyMilliseconds: try row.decode(Double?.self, column: 3), message: try row.decode(String.self, column: 4))
        }
        return statuses
    }
}

/// Splits a range into the coarsest pieces the rollups can answer exactly: whole months, days and
/// hours (as far as each level is built), then minutes, and raw results for the seconds left over. Ranges longer than ``UptimeSegments/exactLimit`` are widened to whole UTC hours first
/// (proto-docs/uptime.md), so a year is a few hundred rows per monitor, not tens of thousands.
enum UptimeSegments {
    /// Ranges up to this long are exact to the microsecond. 7 days.
    static let exactLimit: TimeInterval = 7 * 86_400

    enum Source: Hashable {
        case raw, minute, hour, day, month

        var table: String {
            switch self {
            case .raw: "results"
            case .minute: "results_rollup_1m"
            case .hour: "results_rollup_1h"
            case .day: "results_rollup_1d"
            case .month: "results_rollup_1mo"
            }
        }

        /// The latest boundary of this unit at or before `date`.
        func floor(_ date: Date) -> Date {
            let seconds = date.timeIntervalSince1970
            switch self {
            case .raw: return date
            case .minute: return Date(timeIntervalSince1970: (seconds / 60).rounded(.down) * 60)
            case .hour: return Date(timeIntervalSince1970: (seconds / 3_600).rounded(.down) * 3_600)
            case .day: return Date(timeIntervalSince1970: (seconds / 86_400).rounded(.down) * 86_400)
            case .month:
                let parts = utc.dateComponents([.year, .month], from: date)
                return utc.date(from: parts)!
            }
        }

        /// The earliest boundary of this unit at or after `date`.
        func ceil(_ date: Date) -> Date {
            let low = floor(date)
            guard low < date else { return low }
            switch self {
            case .raw: return date
            case .minute: return low.addingTimeInterval(60)
            case .hour: return low.addingTimeInterval(3_600)
            case .day: return low.addingTimeInterval(86_400)
            case .month: return utc.date(byAdding: .month, value: 1, to: low)!
            }
        }
    }

    private static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    struct Segment: Equatable {
        var source: Source
        var from: Date
        var to: Date
    }

    /// The pieces of `from..<to`. Hour, day and month rollups are used only below the time their
    /// level is built through (`builtThrough`; missing means not at all); minutes always.
    static func split(from: Date, to: Date, builtThrough: [Source: Date] = [:]) -> [Segment] {
        guard from < to else { return [] }
        if to.timeIntervalSince(from) > exactLimit {
            return split(from: Source.hour.floor(from), to: Source.hour.ceil(to), levels: [.month, .day, .hour, .minute], builtThrough: builtThrough)
        }
        return split(from: from, to: to, levels: [.month, .day, .hour, .minute], builtThrough: builtThrough)
    }

    static func split(from: Date, to: Date, levels: [Source], builtThrough: [Source: Date]) -> [Segment] {
        guard from < to else { return [] }
        guard let unit = levels.first else { return [Segment(source: .raw, from: from, to: to)] }
        let rest = Array(levels.dropFirst())
        let a = unit.ceil(from)
        var b = unit.floor(to)
        if unit != .minute { b = min(b, builtThrough[unit] ?? .distantPast) }
        guard a < b else { return split(from: from, to: to, levels: rest, builtThrough: builtThrough) }
        return split(from: from, to: a, levels: rest, builtThrough: builtThrough) + [Segment(source: unit, from: a, to: b)]
            + split(from: b, to: to, levels: rest, builtThrough: builtThrough)
    }
}
