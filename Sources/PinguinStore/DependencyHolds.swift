import PinguinModel
import PinguinPostgres

/// Monitor dependencies as the status engine uses them (proto-docs/status.md): while any
/// dependency of a monitor is down or failing (failures in a row, not yet confirmed), the
/// monitor's alerts are held back, and an incident it opens meanwhile points to the dependency's
/// (`caused_by`). A batch judges dependencies before their dependents, so a router and the
/// servers behind it that fail in the same batch page once, for the router.
struct DependencyHolds {
    /// Each batch monitor's dependencies.
    private(set) var dependencies: [Int64: [Int64]] = [:]
    /// Dependencies outside the batch: whether each is down or failing now.
    private var outside: [Int64: Bool] = [:]

    /// Reads the dependencies of `monitors` and the state of those not among them.
    static func load(_ connection: PostgresConnection, monitors: Set<Int64>) async throws -> DependencyHolds {
        var holds = DependencyHolds()
        let edges = try await connection.query("""
            SELECT d.monitor_id, d.depends_on, s.status = 'down' OR s.consecutive_failures > 0
            FROM monitor_dependencies d LEFT JOIN monitor_state s ON s.monitor_id = d.depends_on
            WHERE d.monitor_id = ANY($1) ORDER BY 1, 2
            """, [monitors.sorted()])
        for row in edges {
            let monitor = try row.decode(Int64.self, column: 0), dependency = try row.decode(Int64.self, column: 1)
            holds.dependencies[monitor, default: []].append(dependency)
            if !monitors.contains(dependency) { holds.outside[dependency] = try row.decode(Bool?.self, column: 2) ?? false }
        }
        return holds
    }

    /// The batch's monitors, dependencies before their dependents (then by id). The API refuses
    /// cycles; should one exist anyway, its monitors come in id order.
    func order(_ monitors: [Int64]) -> [Int64] {
        let inBatch = Set(monitors)
        var depth: [Int64: Int] = [:]
        var visiting: Set<Int64> = []
        func measure(_ id: Int64) -> Int {
            if let known = depth[id] { return known }
            guard visiting.insert(id).inserted else { return 0 }
            let deepest = (dependencies[id] ?? []).filter(inBatch.contains).map { measure($0) + 1 }.max() ?? 0
            visiting.remove(id)
            depth[id] = deepest
            return deepest
        }
        return monitors.sorted { (measure($0), $0) < (measure($1), $1) }
    }

    /// The first dependency of `monitor` that is down or failing, judged by `current` for
    /// dependencies in the batch (already judged, in ``order(_:)``) and by the stored state for the rest.
    func holdingDependency(of monitor: Int64, current: (Int64) -> MonitorStatusState?) -> Int64? {
        (dependencies[monitor] ?? []).first { dependency in
            if let state = current(dependency) { return state.status == .down || state.failures > 0 }
            return outside[dependency] ?? false
        }
    }

    /// Points each incident opened while held by a dependency at that dependency's incident
    /// (the newest one still open when the dependent's began).
    static func linkIncidents(_ connection: PostgresConnection, _ links: [(incident: Int64, dependency: Int64)]) async throws {
        guard !links.isEmpty else { return }
        _ = try await connection.query("""
            UPDATE incidents i SET caused_by = (
                SELECT c.id FROM incidents c
                WHERE c.monitor_id = u.dependency AND c.started_at <= i.started_at + interval '1 minute'
                  AND (c.ended_at IS NULL OR c.ended_at >= i.started_at)
                ORDER BY c.started_at DESC LIMIT 1)
            FROM unnest($1::bigint[], $2::bigint[]) AS u (incident, dependency)
            WHERE i.id = u.incident
            """, [links.map(\.incident), links.map(\.dependency)])
    }
}
