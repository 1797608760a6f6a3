import Foundation
import PinguinModel
@testable import PinguinStore
import Testing

@Suite("Maintenance windows applied to results")
struct MaintenanceCalendarTests {
    private func date(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    private func window(id: Int64, name: String, cron: String? = nil, durationMs: Int64? = nil, zone: String = "UTC",
                        startsAt: Date? = nil, endsAt: Date? = nil, enabled: Bool = true) -> MaintenanceRecord {
        MaintenanceRecord(
            id: id, namespace: "default", name: name, description: "", startsAt: startsAt, endsAt: endsAt, cron: cron,
            durationMilliseconds: durationMs, timeZone: zone, monitorIDs: [], tags: [], enabled: enabled,
            createdAt: Date(timeIntervalSince1970: 0), updatedAt: Date(timeIntervalSince1970: 0))
    }

    @Test("a recurring window in its time zone covers its monitors' slots; others, paused and skipped slots stay as they are")
    func recurring() {
        // Every night at 03:00 in Berlin for two hours: 02:00-04:00 UTC in winter.
        let nightly = window(id: 7, name: "nightly", cron: "0 3 * * *", durationMs: 7_200_000, zone: "Europe/Berlin")
        let calendar = MaintenanceCalendar(windows: [.init(record: nightly, monitors: [1, 2])])
        func result(_ monitor: Int64, _ at: String, _ status: CheckStatus, _ message: String = "x") -> CheckResult {
            CheckResult(monitorID: monitor, scheduledAt: date(at), status: status, slotMilliseconds: 60_000, message: message)
        }
        let (results, covered) = calendar.apply(to: [
            result(1, "2026-12-02T02:30:00Z", .down, "refused"),
            result(1, "2026-12-02T04:00:00Z", .down),   // the window's end is not in it
            result(2, "2026-12-02T01:59:00Z", .up),
            result(2, "2026-12-02T03:59:59Z", .up, ""),
            result(3, "2026-12-02T02:30:00Z", .down),   // not a monitor of the window
            result(1, "2026-12-02T02:31:00Z", .paused),
            result(1, "2026-12-02T02:32:00Z", .skipped),
        ])
        #expect(covered == 2)
        #expect(results.map(\.status) == [.maintenance, .down, .up, .maintenance, .down, .paused, .skipped])
        #expect(results[0].message == "maintenance window \"nightly\" (7); the check said down: refused")
        #expect(results[3].message == "maintenance window \"nightly\" (7); the check said up")
        // In summer Berlin is UTC+2: the same window is 01:00-03:00 UTC.
        let (summer, _) = calendar.apply(to: [result(1, "2026-07-01T01:30:00Z", .down), result(1, "2026-07-01T03:30:00Z", .down)])
        #expect(summer.map(\.status) == [.maintenance, .down])
        #expect(calendar.window(covering: 2, at: date("2026-12-02T02:00:00Z"))?.id == 7)
        #expect(MaintenanceCalendar.empty.apply(to: [result(1, "2026-12-02T02:30:00Z", .down)]).covered == 0)
    }

    @Test("a one-off window from its start to its end; the lowest id wins when two overlap")
    func oneOff() {
        let first = window(id: 3, name: "first", startsAt: date("2026-12-02T10:00:00Z"), endsAt: date("2026-12-02T11:00:00Z"))
        let second = window(id: 4, name: "second", startsAt: date("2026-12-02T10:30:00Z"), endsAt: date("2026-12-02T12:00:00Z"))
        let calendar = MaintenanceCalendar(windows: [.init(record: first, monitors: [1]), .init(record: second, monitors: [1])])
        #expect(calendar.window(covering: 1, at: date("2026-12-02T09:59:59Z")) == nil)
        #expect(calendar.window(covering: 1, at: date("2026-12-02T10:45:00Z"))?.id == 3)
        #expect(calendar.window(covering: 1, at: date("2026-12-02T11:30:00Z"))?.id == 4)
        #expect(calendar.window(covering: 1, at: date("2026-12-02T12:00:00Z")) == nil)
    }
}
