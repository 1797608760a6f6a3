import PinguinPostgres

/// Monitor dependencies (table `monitor_dependencies`, migration 6): while a dependency is down
/// the status engine holds the dependent's alerts back, so the graph must stay acyclic.
extension MonitorStore {
    /// How many monitors one monitor may depend on.
    public static let maximumDependencies = 20

    /// `ids` without duplicates, sorted; refuses the monitor itself and too many.
    static func dependencySet(_ ids: [Int64], of monitor: Int64?) throws(MonitorDependencyError) -> [Int64] {
        let set = Set(ids)
        if let monitor, set.contains(monitor) { throw MonitorDependencyError(code: .dependsOnItself, monitorIDs: [monitor]) }
        guard set.count <= maximumDependencies else { throw MonitorDependencyError(code: .tooMany) }
        return set.sorted()
    }

    /// Replaces the dependencies of an existing monitor after checking that they exist and close no
    /// cycle. The caller holds `monitor_dependencies` in SHARE ROW EXCLUSIVE mode, so the graph
    /// checked is the graph written to.
    static func replaceDependencies(of monitor: Int64, with dependsOn: [Int64], on connection: PostgresConnection) async throws {
        let missing = try await ChannelStore.missingMonitors(dependsOn, on: connection)
        guard missing.isEmpty else { throw MonitorDependencyError(code: .unknownMonitors, monitorIDs: missing) }
        if let path = try await cycle(from: monitor, through: dependsOn, on: connection) {
            throw MonitorDependencyError(code: .cycle, monitorIDs: path)
        }
        try await connection.query("DELETE FROM monitor_dependencies WHERE monitor_id = $1 AND depends_on <> ALL($2)", [monitor, dependsOn])
        try await connection.query("""
            INSERT INTO monitor_dependencies (monitor_id, depends_on) SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING
            """, [monitor, dependsOn])
    }

    /// The shortest path from `monitor` through one of `dependsOn` back to `monitor` over the stored
    /// links, or nil. The recursive query collects every link reachable from `dependsOn` (UNION
    /// visits each once, however many paths lead there) without going on from `monitor` itself.
    static func cycle(from monitor: Int64, through dependsOn: [Int64], on connection: PostgresConnection) async throws -> [Int64]? {
        guard !dependsOn.isEmpty else { return nil }
        let rows = try await connection.query("""
            WITH RECURSIVE reachable (monitor_id, depends_on) AS (
                SELECT monitor_id, depends_on FROM monitor_dependencies WHERE monitor_id = ANY($2)
              UNION
                SELECT d.monitor_id, d.depends_on
                FROM reachable r JOIN monitor_dependencies d ON d.monitor_id = r.depends_on
                WHERE r.depends_on <> $1
            )
            SELECT monitor_id, depends_on FROM reachable ORDER BY 1, 2
            """, [monitor, dependsOn])
        var links: [Int64: [Int64]] = [:]
        for row in rows {
            links[try row.decode(Int64.self, column: 0), default: []].append(try row.decode(Int64.self, column: 1))
        }
        // Breadth first, so the path reported is a shortest one.
        var previous: [Int64: Int64] = [:]
        var queue = dependsOn
        for id in dependsOn { previous[id] = monitor }
        var index = 0
        while index < queue.count {
            let node = queue[index]
            index += 1
            for next in links[node] ?? [] {
                if next == monitor {
                    var path = [node, monitor]
                    var step = node
                    while let before = previous[step], before != monitor {
                        path.insert(before, at: 0)
                        step = before
                    }
                    return [monitor] + path
                }
                if previous[next] == nil {
                    previous[next] = node
                    queue.append(next)
                }
            }
        }
        return nil
    }
}
