import Foundation
import PinguinModel
import PinguinPostgres
import PinguinStore
import PinguinTestSupport

/// A migrated temporary database with a client, result storage and monitor store.
struct StoreFixture {
    let client: PostgresClient
    let storage: PartitionedResultStorage
    let monitors: MonitorStore

    static func with<T: Sendable>(_ body: (StoreFixture) async throws -> T) async throws -> T {
        try await TemporaryDatabase.with { configuration in
            let client = PostgresClient(configuration, logger: TestServices.logger())
            do {
                try await MigrationRunner(client: client, logger: TestServices.logger()).up()
                let fixture = StoreFixture(
                    client: client, storage: PartitionedResultStorage(client: client, logger: TestServices.logger()),
                    monitors: MonitorStore(client: client))
                let result = try await body(fixture)
                await client.close()
                return result
            } catch {
                await client.close()
                throw error
            }
        }
    }

    func monitor(_ name: String, interval: Int32 = 60_000) async throws -> Int64 {
        var draft = MonitorDraft(name: name, kind: "http", target: "http://127.0.0.1/")
        draft.intervalMilliseconds = interval
        return try await monitors.create(draft)
    }
}

/// A UTC time from "2026-03-02T01:00:00Z".
func at(_ text: String) -> Date {
    ISO8601DateFormatter().date(from: text)!
}
