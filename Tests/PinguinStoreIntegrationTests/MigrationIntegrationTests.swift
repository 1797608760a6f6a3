import Foundation
import PinguinModel
import PinguinPostgres
import PinguinStore
import PinguinTestSupport
import Testing

private let pinguinTables = [
    "monitors", "monitor_state", "notification_channels", "monitor_channels", "incidents", "notification_outbox",
    "maintenance_windows", "api_tokens", "audit_log", "settings", "results", "results_rejected",
    "results_rollup_1m", "results_rollup_1h", "results_rollup_1d", "supervisor_checks", "supervisor_suspicions",
    "monitor_dependencies",
]

/// Every migration's version, oldest first (1 to 6 as this is written).
private let versions = Migrations.all.map(\.version)

private func tableCount(_ client: PostgresClient) async throws -> Int {
    try await client.query(
        "SELECT count(*) FROM pg_class WHERE relname = ANY($1) AND relkind IN ('r', 'p')", [pinguinTables]
    )[0].decode(Int.self, column: 0)
}

@Suite("Migrations", .enabled(if: TestServices.postgresEnabled, Comment(rawValue: TestServices.skipReason)), .timeLimit(.minutes(2)))
struct MigrationIntegrationTests {
    @Test("up, down and up again on an empty database")
    func upDownUpEmpty() async throws {
        try await TemporaryDatabase.with { configuration in
            let client = PostgresClient(configuration, logger: TestServices.logger())
            let runner = MigrationRunner(client: client, logger: TestServices.logger())
            #expect(try await runner.status().allSatisfy { $0.appliedAt == nil })
            #expect(try await runner.up() == versions)
            #expect(try await runner.up() == [])
            #expect(try await tableCount(client) == pinguinTables.count)
            #expect(try await runner.currentVersion() == versions.last)
            #expect(try await runner.down(to: 0) == versions.reversed())
            #expect(try await tableCount(client) == 0)
            let functions = try await client.query("SELECT count(*) FROM pg_proc WHERE proname LIKE 'pinguin_%'")
            #expect(try functions[0].decode(Int.self, column: 0) == 0)
            #expect(try await runner.up() == versions)
            #expect(try await tableCount(client) == pinguinTables.count)
            await client.close()
        }
    }

    @Test("down and up on a populated database keep what the reverted migration did not own")
    func upDownUpPopulated() async throws {
        try await StoreFixture.with { fixture in
            let runner = MigrationRunner(client: fixture.client, logger: TestServices.logger())
            let id = try await fixture.monitor("populated")
            let now = Date()
            _ = try await fixture.storage.write([CheckResult(monitorID: id, scheduledAt: now, status: .up, slotMilliseconds: 60_000)])
            #expect(try await runner.down(to: 1) == Array(versions.dropFirst().reversed()))
            // Monitors survive reverting the results migration.
            let names = try await fixture.client.query("SELECT name FROM monitors")
            #expect(try names.map { try $0.decode(String.self, column: 0) } == ["populated"])
            #expect(try await runner.up() == Array(versions.dropFirst()))
            // The storage must learn that partitions are gone: a new storage object writes fine.
            let fresh = PartitionedResultStorage(client: fixture.client, logger: TestServices.logger())
            let outcome = try await fresh.write([CheckResult(monitorID: id, scheduledAt: now, status: .up, slotMilliseconds: 60_000)])
            #expect(outcome.inserted == 1)
            #expect(try await runner.down(to: 0) == versions.reversed())
            #expect(try await tableCount(fixture.client) == 0)
            #expect(try await runner.up() == versions)
        }
    }

    @Test("two runners at once apply each migration exactly once")
    func concurrentRunners() async throws {
        try await TemporaryDatabase.with { configuration in
            let clients = (0..<2).map { _ in PostgresClient(configuration, logger: TestServices.logger()) }
            let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
                for client in clients {
                    group.addTask { try await MigrationRunner(client: client, logger: TestServices.logger()).up() }
                }
                return try await group.reduce(into: [Int]()) { $0 += $1 }
            }
            #expect(applied.sorted() == versions)
            let rows = try await clients[0].query("SELECT count(*) FROM schema_migrations")
            #expect(try rows[0].decode(Int.self, column: 0) == versions.count)
            for client in clients { await client.close() }
        }
    }

    @Test("a failing migration leaves nothing half-applied")
    func failingMigrationRollsBack() async throws {
        try await TemporaryDatabase.with { configuration in
            let client = PostgresClient(configuration, logger: TestServices.logger())
            let broken = Migration(version: 1, name: "broken", up: "CREATE TABLE half (a int); SELECT no_such_function();", down: "DROP TABLE half;")
            let runner = MigrationRunner(client: client, migrations: [broken], logger: TestServices.logger())
            await #expect(throws: PostgresError.self) { try await runner.up() }
            let half = try await client.query("SELECT to_regclass('half') IS NULL")
            #expect(try half[0].decode(Bool.self, column: 0))
            #expect(try await runner.currentVersion() == 0)
            await client.close()
        }
    }

    @Test("a migration edited after it was applied is refused, not silently skipped")
    func editedMigration() async throws {
        try await TemporaryDatabase.with { configuration in
            let client = PostgresClient(configuration, logger: TestServices.logger())
            let original = Migration(version: 1, name: "t", up: "CREATE TABLE t (a int);", down: "DROP TABLE t;")
            try await MigrationRunner(client: client, migrations: [original], logger: TestServices.logger()).up()
            let edited = Migration(version: 1, name: "t", up: "CREATE TABLE t (a int, b int);", down: "DROP TABLE t;")
            let runner = MigrationRunner(client: client, migrations: [edited], logger: TestServices.logger())
            #expect(try await runner.status().first?.changed == true)
            await #expect {
                try await runner.up()
            } throws: { error in
                (error as? StoreError)?.code == .schemaMismatch && "\(error)".contains("migration 1 (t) differs")
            }
            await client.close()
        }
    }

    @Test("the database's constraints reject bad monitors by name")
    func constraints() async throws {
        try await StoreFixture.with { fixture in
            var draft = MonitorDraft(name: "a", kind: "http", target: "x")
            draft.intervalMilliseconds = 500
            await #expect { try await fixture.monitors.create(draft) } throws: {
                ($0 as? PostgresError)?.constraint == "monitors_interval_range"
            }
            draft.intervalMilliseconds = 60_000
            draft.timeoutMilliseconds = 120_000
            await #expect { try await fixture.monitors.create(draft) } throws: {
                ($0 as? PostgresError)?.constraint == "monitors_timeout_within_interval"
            }
            draft.timeoutMilliseconds = 1_000
            _ = try await fixture.monitors.create(draft)
            await #expect { try await fixture.monitors.create(draft) } throws: {
                ($0 as? PostgresError)?.constraint == "monitors_name_unique"
            }
            draft.namespace = "other"
            _ = try await fixture.monitors.create(draft)
            draft.kind = "Bad Kind"
            draft.name = "b"
            await #expect { try await fixture.monitors.create(draft) } throws: {
                ($0 as? PostgresError)?.constraint == "monitors_kind_format"
            }
        }
    }
}
