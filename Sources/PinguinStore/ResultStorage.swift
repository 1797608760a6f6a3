public import Foundation
public import PinguinModel

/// Which implementation stores results.
public enum StorageEngine: String, Sendable, Hashable, Codable {
    /// Plain PostgreSQL: daily range partitions and rollup tables kept by the ingester.
    case nativePartitioning = "postgresql-partitioning"
    /// TimescaleDB hypertables and continuous aggregates.
    case timescaledb
}

/// What one batch write did.
public struct ResultWriteOutcome: Sendable, Hashable {
    /// Rows stored now.
    public var inserted: Int
    /// Results already stored (a redelivery): nothing changed.
    public var duplicates: Int
    /// Results of monitors that no longer exist: not stored.
    public var orphans: Int
    /// What the status engine changed while the batch was stored, in slot order per monitor.
    public var statusChanges: [StatusChange]
    /// Incidents it opened or closed.
    public var incidentUpdates: [IncidentUpdate]
    /// For each monitor the engine judged, whether it is now failing but not confirmed down
    /// (``MonitorStatusState/isFailing(under:)``): what `{pinguin}:failing` should say.
    public var failing: [Int64: Bool]

    public init(
        inserted: Int, duplicates: Int, orphans: Int, statusChanges: [StatusChange] = [], incidentUpdates: [IncidentUpdate] = [],
        failing: [Int64: Bool] = [:]
    ) {
        self.inserted = inserted
        self.duplicates = duplicates
        self.orphans = orphans
        self.statusChanges = statusChanges
        self.incidentUpdates = incidentUpdates
        self.failing = failing
    }

    /// `[inserted, duplicates, orphans]`, for comparing outcomes without their status changes.
    public var counts: [Int] { [inserted, duplicates, orphans] }
}

/// One page of a monitor's results, newest first.
public struct ResultPage: Sendable {
    public var results: [CheckResult]
    /// Pass back as `before` for the next (older) page; nil when there is none.
    public var next: ResultCursor?
}

/// Where a page of results ends: the last result's slot.
public struct ResultCursor: Sendable, Hashable, Codable {
    public var scheduledAt: Date
    public var location: String

    public init(scheduledAt: Date, location: String) {
        self.scheduledAt = scheduledAt
        self.location = location
    }
}

/// Time-weighted uptime of one monitor over a range (definition: proto-docs/uptime.md).
public struct Uptime: Sendable, Hashable {
    public var monitorID: Int64
    /// Slot time that counted as up (up and degraded results).
    public var upMilliseconds: Int64
    /// Slot time that counted as down.
    public var downMilliseconds: Int64
    /// Slot time that counted neither way (unknown, maintenance, paused, skipped).
    public var excludedMilliseconds: Int64
    /// Results in the range.
    public var checks: Int64

    public init(monitorID: Int64, upMilliseconds: Int64, downMilliseconds: Int64, excludedMilliseconds: Int64, checks: Int64) {
        self.monitorID = monitorID
        self.upMilliseconds = upMilliseconds
        self.downMilliseconds = downMilliseconds
        self.excludedMilliseconds = excludedMilliseconds
        self.checks = checks
    }

    /// up / (up + down), or nil when nothing in the range counts.
    public var ratio: Double? {
        let counted = upMilliseconds + downMilliseconds
        return counted == 0 ? nil : Double(upMilliseconds) / Double(counted)
    }
}

/// Latency of a monitor's checks over a range, from results that ran (up, down, degraded).
public struct LatencySummary: Sendable, Hashable {
    public var count: Int
    public var minimum: Double?
    public var maximum: Double?
    public var mean: Double?
    public var p50: Double?
    public var p95: Double?
    public var p99: Double?
}

/// A monitor's latest result, as the ingester last recorded it.
public struct LastStatus: Sendable, Hashable {
    public var monitorID: Int64
    public var scheduledAt: Date
    public var status: CheckStatus
    public var latencyMilliseconds: Double?
    public var message: String
}

/// How long stored data is kept.
public struct RetentionPolicy: Sendable, Hashable {
    /// Raw results, in days. Default 31.
    public var resultDays = 31
    /// Minute rollups, in days. Default 31 (at least `resultDays` keeps uptime exact at minute edges).
    public var minuteRollupDays = 31
    /// Hour rollups, in days. Default 400.
    public var hourRollupDays = 400
    /// Day rollups, in days; nil keeps them for ever. Default nil.
    public var dayRollupDays: Int? = nil
    /// Daily partitions created ahead of today. Default 7.
    public var partitionsAhead = 7

    public init() {}
}

/// What one maintenance pass did.
public struct MaintenanceReport: Sendable, Hashable {
    public var partitionsCreated: Int
    public var partitionsDropped: Int
    public var rollupRowsDeleted: Int
    /// Hour, day and month rollup rows built from finer ones.
    public var rollupRowsBuilt: Int
}

/// The one interface over the result stores: writes (the ingester) and queries (the control plane).
/// Every implementation answers the same numbers for the same data.
public protocol ResultStorage: Sendable {
    var engine: StorageEngine { get }

    /// Stores a batch; a result already stored is skipped, so redelivery is harmless.
    func write(_ batch: [CheckResult]) async throws -> ResultWriteOutcome

    /// A monitor's results with `from <= scheduledAt < to`, newest first.
    func results(monitorID: Int64, from: Date, to: Date, limit: Int, before: ResultCursor?) async throws -> ResultPage

    /// Uptime of the given monitors (all monitors with data, if nil) over `from..<to`.
    func uptime(monitorIDs: [Int64]?, from: Date, to: Date) async throws -> [Int64: Uptime]

    /// Latency percentiles of a monitor over `from..<to`.
    func latency(monitorID: Int64, from: Date, to: Date) async throws -> LatencySummary

    /// The latest result of each given monitor that has one.
    func lastStatus(monitorIDs: [Int64]) async throws -> [Int64: LastStatus]

    /// Builds coarser rollups for periods that are over; returns the rows written. Cheap when
    /// nothing is due; the ingester calls it every minute.
    func buildRollups(now: Date) async throws -> Int

    /// Builds rollups, creates partitions ahead, and drops or deletes data past retention.
    func maintain(now: Date, retention: RetentionPolicy) async throws -> MaintenanceReport
}
