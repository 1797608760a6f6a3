import Foundation
import PinguinModel
import PinguinPostgres
import PinguinStore
import PinguinTestSupport
import Testing

/// The status engine as the ingester runs it: results stored through `ResultStorage.write` change
/// `monitor_state` and `incidents` in the same transaction, in real PostgreSQL.
@Suite("Status engine in storage", .enabled(if: TestServices.postgresEnabled, Comment(rawValue: TestServices.skipReason)), .timeLimit(.minutes(3)))
struct StatusEngineIntegrationTests {
    private static let start = at("2026-03-02T08:00:00Z")

    private func result(_ monitor: Int64, minute: Int, _ status: CheckStatus, _ message: String? = nil) -> CheckResult {
        CheckResult(monitorID: monitor, scheduledAt: Self.start.addingTimeInterval(Double(minute) * 60), status: status,
                    slotMilliseconds: 60_000, message: message ?? "\(status.rawValue) at \(minute)")
    }

    private struct Incident: Equatable {
        var startedAt: Date
        var endedAt: Date?
        var firstMessage: String
        var lastMessage: String
        var failedChecks: Int
    }

    private func incidents(_ fixture: StoreFixture, _ monitor: Int64) async throws -> [Incident] {
        try await fixture.client.query("""
            SELECT started_at, ended_at, first_message, last_message, failed_checks FROM incidents WHERE monitor_id = $1 ORDER BY id
            """, [monitor]).map { row in
            Incident(startedAt: try row.decode(Date.self, column: 0), endedAt: try row.decode(Date?.self, column: 1),
                     firstMessage: try row.decode(String.self, column: 2), lastMessage: try row.decode(String.self, column: 3),
                     failedChecks: try row.decode(Int.self, column: 4))
        }
    }

    private func state(_ fixture: StoreFixture, _ monitor: Int64) async throws -> (status: String, since: Date, failures: Int, successes: Int) {
        let row = try await fixture.client.query("""
            SELECT status, status_since, consecutive_failures, consecutive_successes FROM monitor_state WHERE monitor_id = $1
            """, [monitor])[0]
        return (try row.decode(String.self, column: 0), try row.decode(Date.self, column: 1), try row.decode(Int.self, column: 2), try row.decode(Int.self, column: 3))
    }

    @Test("three failures in a row make an incident from the first; a success ends it; one batch or one result at a time alike")
    func thresholdsAndIncidents() async throws {
        try await StoreFixture.with { fixture in
            let together = try await fixture.monitor("together")
            let apart = try await fixture.monitor("apart")
            func outage(_ id: Int64) -> [CheckResult] {
                [result(id, minute: 0, .up), result(id, minute: 1, .down, "connection refused"), result(id, minute: 2, .down),
                 result(id, minute: 3, .up), result(id, minute: 4, .down, "timeout"), result(id, minute: 5, .down),
                 result(id, minute: 6, .down, "still timing out"), result(id, minute: 7, .down, "refused again"), result(id, minute: 8, .up)]
            }
            _ = try await fixture.storage.write(outage(together))
            for single in outage(apart) { _ = try await fixture.storage.write([single]) }
            for id in [together, apart] {
                // Minutes 1–2 were a blip (two failures, below the threshold of 3); 4–7 an outage.
                let stored = try await incidents(fixture, id)
                #expect(stored == [Incident(
                    startedAt: Self.start.addingTimeInterval(4 * 60), endedAt: Self.start.addingTimeInterval(8 * 60),
                    firstMessage: "timeout", lastMessage: "refused again", failedChecks: 4)], "monitor \(id)")
                let now = try await state(fixture, id)
                #expect(now.status == "up")
                #expect(now.since == Self.start.addingTimeInterval(8 * 60))
                #expect(now.failures == 0 && now.successes == 1)
            }
        }
    }

    @Test("in one batch the incident open before it closes and the next one opens (the one-open-incident index holds)")
    func closeAndReopenInOneBatch() async throws {
        try await StoreFixture.with { fixture in
            let id = try await fixture.monitor("flip")
            _ = try await fixture.client.query("UPDATE monitors SET failure_threshold = 1 WHERE id = $1", [id])
            _ = try await fixture.storage.write([result(id, minute: 0, .down, "first outage")])
            _ = try await fixture.storage.write([result(id, minute: 1, .down, "still"), result(id, minute: 2, .up),
                                                 result(id, minute: 3, .down, "second outage"), result(id, minute: 4, .up),
                                                 result(id, minute: 5, .down, "third outage")])
            let minute = { (m: Double) in Self.start.addingTimeInterval(m * 60) }
            #expect(try await incidents(fixture, id) == [
                Incident(startedAt: minute(0), endedAt: minute(2), firstMessage: "first outage", lastMessage: "still", failedChecks: 2),
                Incident(startedAt: minute(3), endedAt: minute(4), firstMessage: "second outage", lastMessage: "second outage", failedChecks: 1),
                Incident(startedAt: minute(5), endedAt: nil, firstMessage: "third outage", lastMessage: "third outage", failedChecks: 1),
            ])
            #expect(try await state(fixture, id).status == "down")
        }
    }

    @Test("results stored again, or arriving after newer ones, change nothing")
    func redeliveryAndOrder() async throws {
        try await StoreFixture.with { fixture in
            let id = try await fixture.monitor("redelivered")
            let batch = [result(id, minute: 0, .up), result(id, minute: 2, .down), result(id, minute: 3, .down), result(id, minute: 4, .down)]
            _ = try await fixture.storage.write(batch)
            let before = try await incidents(fixture, id)
            #expect(before.count == 1 && before[0].endedAt == nil && before[0].failedChecks == 3)
            let again = try await fixture.storage.write(batch)
            #expect(again.inserted == 0)
            // Minute 1 is new to the table but older than what the engine judged: stored, ignored.
            let late = try await fixture.storage.write([result(id, minute: 1, .up, "late up")])
            #expect(late.inserted == 1)
            #expect(try await incidents(fixture, id) == before)
            let now = try await state(fixture, id)
            #expect(now.status == "down" && now.failures == 3)
        }
    }

    @Test("unknown results never open an incident; upside-down monitors fail on success")
    func unknownAndUpsideDown() async throws {
        try await StoreFixture.with { fixture in
            let broken = try await fixture.monitor("checker broke")
            _ = try await fixture.storage.write([result(broken, minute: 0, .up)] + (1...6).map { result(broken, minute: $0, .unknown, "plugin timeout") })
            #expect(try await incidents(fixture, broken).isEmpty)
            #expect(try await state(fixture, broken).status == "unknown")

            let closedPort = try await fixture.monitor("must stay closed")
            _ = try await fixture.client.query("UPDATE monitors SET upside_down = true, failure_threshold = 2 WHERE id = $1", [closedPort])
            _ = try await fixture.storage.write([result(closedPort, minute: 0, .down, "refused"), result(closedPort, minute: 1, .up, "open"),
                                                 result(closedPort, minute: 2, .up, "open")])
            let stored = try await incidents(fixture, closedPort)
            #expect(stored.count == 1 && stored.first?.firstMessage == "upside-down: up counts as down: open", "\(stored)")
            #expect(try await state(fixture, closedPort).status == "down")
        }
    }

    @Test("two writers at once: one incident, consistent state, every failure counted once")
    func twoWriters() async throws {
        try await StoreFixture.with { fixture in
            let id = try await fixture.monitor("contended")
            _ = try await fixture.storage.write([result(id, minute: 0, .up)])
            let second = PartitionedResultStorage(client: fixture.client, logger: TestServices.logger())
            // Ten batches of two failures each, written by two storages at once.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for batch in 0..<10 {
                    let storage = batch % 2 == 0 ? fixture.storage : second
                    let rows = [result(id, minute: 1 + batch * 2, .down), result(id, minute: 2 + batch * 2, .down)]
                    group.addTask { _ = try await storage.write(rows) }
                }
                try await group.waitForAll()
            }
            let stored = try await incidents(fixture, id)
            #expect(stored.count == 1, "\(stored)")
            #expect(stored.first?.endedAt == nil)
            let now = try await state(fixture, id)
            #expect(now.status == "down")
            // Batches committed out of slot order are ignored by the engine (older slots), so
            // fewer than 20 may be judged; but the incident counts exactly the failures judged.
            #expect(now.failures >= 3 && now.failures <= 20)
            #expect(stored.first?.failedChecks == now.failures, "\(stored), \(now)")
        }
    }
}
