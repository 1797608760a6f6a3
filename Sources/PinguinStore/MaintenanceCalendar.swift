public import Foundation
public import PinguinModel
public import PinguinPostgres

/// The enabled maintenance windows with the monitors each covers (its `monitor_ids`, and every
/// monitor carrying one of its `tags`), as the ingester applies them to results: a result whose
/// slot falls in a window of its monitor is stored as `maintenance`.
public struct MaintenanceCalendar: Sendable {
    struct Window: Sendable {
        var record: MaintenanceRecord
        var monitors: Set<Int64>
    }

    let windows: [Window]

    public static let empty = MaintenanceCalendar(windows: [])

    init(windows: [Window]) {
        self.windows = windows
    }

    public var isEmpty: Bool { windows.isEmpty }

    /// Reads the enabled windows and resolves their tags to monitors.
    public static func load(client: PostgresClient) async throws -> MaintenanceCalendar {
        let rows = try await client.query("""
            SELECT \(MaintenanceStore.columns),
                   ARRAY(SELECT m.id FROM monitors m WHERE m.id = ANY(w.monitor_ids) OR m.tags && w.tags ORDER BY m.id)
            FROM maintenance_windows w WHERE enabled ORDER BY id
            """)
        return MaintenanceCalendar(windows: try rows.map { row in
            Window(record: try MaintenanceStore.record(row), monitors: Set(try row.decode([Int64].self, column: 14)))
        })
    }

    /// The window (the lowest id, if several) covering `monitorID` at `date`.
    public func window(covering monitorID: Int64, at date: Date) -> MaintenanceRecord? {
        windows.first { $0.monitors.contains(monitorID) && $0.record.isActive(at: date) }?.record
    }

    /// `results` with every result whose slot falls in a window of its monitor turned into
    /// `maintenance`: the check ran and is kept, but says nothing that may alert, and uptime
    /// leaves it out. The message keeps what the check said. Paused and skipped slots stay so.
    public func apply(to results: [CheckResult]) -> (results: [CheckResult], covered: Int) {
        guard !windows.isEmpty else { return (results, 0) }
        var covered = 0
        let mapped = results.map { result -> CheckResult in
            guard result.status != .paused, result.status != .skipped, result.status != .maintenance,
                  let window = window(covering: result.monitorID, at: result.scheduledAt) else { return result }
            covered += 1
            var changed = result
            changed.status = .maintenance
            changed.message = "maintenance window \"\(window.name)\" (\(window.id)); the check said \(result.status.rawValue)"
                + (result.message.isEmpty ? "" : ": \(result.message)")
            return changed
        }
        return (mapped, covered)
    }
}
