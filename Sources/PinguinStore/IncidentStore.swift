public import Foundation
public import PinguinPostgres

/// A stored incident: a spell of a monitor being down, open while `endedAt` is nil.
public struct IncidentRecord: Sendable, Hashable {
    public var id: Int64
    public var monitorID: Int64
    public var monitorName: String
    public var startedAt: Date
    public var endedAt: Date?
    public var firstMessage: String
    public var lastMessage: String
    public var failedChecks: Int32
    /// The incident (of another monitor) this one is attributed to, if any.
    public var causedBy: Int64?

    /// How long it lasted, in milliseconds; nil while open.
    public var durationMilliseconds: Int64? {
        endedAt.map { Int64(($0.timeIntervalSince(startedAt) * 1_000).rounded()) }
    }
}

/// Filters of ``IncidentStore/list(_:)``; all optional, combined with AND.
public struct IncidentFilter: Sendable, Hashable {
    public var monitorID: Int64?
    /// Only open (true) or only closed (false) incidents.
    public var open: Bool?
    /// Only incidents still going on at or after this time.
    public var since: Date?
    /// Only incidents that began before this time.
    public var until: Date?
    /// Page size, 1…1000. Default 100.
    public var limit = 100
    /// Only incidents after this one in the list's order (newest first): the previous page's last id.
    public var afterID: Int64?

    public init() {}
}

/// Incidents in PostgreSQL, read side. The status engine writes them.
/// A monitor's incidents within a range.
public struct IncidentSummary: Sendable, Hashable {
    public var count: Int
    /// Their time within the range, in milliseconds.
    public var milliseconds: Int64
}

public struct IncidentStore: Sendable {
    public let client: PostgresClient

    public init(client: PostgresClient) {
        self.client = client
    }

    /// Per monitor, the incidents that overlap `from`…`to`: how many, and their time within the
    /// range (an open one counts up to now), for uptime reports.
    public func summaries(monitorIDs: [Int64]?, from: Date, to: Date) async throws -> [Int64: IncidentSummary] {
        let rows = try await client.query("""
            SELECT monitor_id, count(*),
                   coalesce(sum(greatest(extract(epoch FROM least(coalesce(ended_at, now()), $3) - greatest(started_at, $2)), 0) * 1000), 0)::bigint
            FROM incidents
            WHERE ($1::bigint[] IS NULL OR monitor_id = ANY($1)) AND started_at < $3 AND (ended_at IS NULL OR ended_at > $2)
            GROUP BY monitor_id
            """, [monitorIDs, from, to])
        var summaries: [Int64: IncidentSummary] = [:]
        for row in rows {
            let id = try row.decode(Int64.self, column: 0)
            summaries[id] = IncidentSummary(count: try row.decode(Int.self, column: 1), milliseconds: try row.decode(Int64.self, column: 2))
        }
        return summaries
    }

    static let columns = """
        i.id, i.monitor_id, m.name, i.started_at, i.ended_at, i.first_message, i.last_message, i.failed_checks, i.caused_by
        """

    static func record(_ row: PostgresRow) throws -> IncidentRecord {
        IncidentRecord(
            id: try row.decode(Int64.self, column: 0), monitorID: try row.decode(Int64.self, column: 1),
            monitorName: try row.decode(String.self, column: 2), startedAt: try row.decode(Date.self, column: 3),
            endedAt: try row.decode(Date?.self, column: 4), firstMessage: try row.decode(String.self, column: 5),
            lastMessage: try row.decode(String.self, column: 6), failedChecks: try row.decode(Int32.self, column: 7),
            causedBy: try row.decode(Int64?.self, column: 8))
    }

    public func get(id: Int64) async throws -> IncidentRecord? {
        try await client.query("SELECT \(Self.columns) FROM incidents i JOIN monitors m ON m.id = i.monitor_id WHERE i.id = $1", [id])
            .first.map(Self.record)
    }

    /// Incidents matching `filter`, newest first (by start, then id). Throws ``StoreError/Code/notFound``
    /// when `afterID` names no incident (it was deleted with its monitor): the caller starts again.
    public func list(_ filter: IncidentFilter) async throws -> [IncidentRecord] {
        var conditions: [String] = []
        var binds: [any PostgresEncodable] = []
        func bind(_ value: any PostgresEncodable) -> String {
            binds.append(value)
            return "$\(binds.count)"
        }
        if let monitor = filter.monitorID { conditions.append("i.monitor_id = \(bind(monitor))") }
        if let open = filter.open { conditions.append(open ? "i.ended_at IS NULL" : "i.ended_at IS NOT NULL") }
        if let since = filter.since { conditions.append("(i.ended_at IS NULL OR i.ended_at >= \(bind(since)))") }
        if let until = filter.until { conditions.append("i.started_at < \(bind(until))") }
        if let after = filter.afterID {
            guard try await !client.query("SELECT 1 FROM incidents WHERE id = $1", [after]).isEmpty else {
                throw StoreError(code: .notFound, message: "no incident \(after) to continue after")
            }
            conditions.append("(i.started_at, i.id) < (SELECT started_at, id FROM incidents WHERE id = \(bind(after)))")
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let rows = try await client.query("""
            SELECT \(Self.columns) FROM incidents i JOIN monitors m ON m.id = i.monitor_id \(whereClause)
            ORDER BY i.started_at DESC, i.id DESC LIMIT \(max(1, min(filter.limit, 1000)))
            """, binds)
        return try rows.map(Self.record)
    }
}
