public import Logging
public import PinguinPostgres

/// Opens the result storage that fits the database.
public enum Storage {
    /// Which engine serves results in this database, and whether TimescaleDB could have.
    public struct Detection: Sendable, Hashable {
        public var engine: StorageEngine
        public var timescaleAvailable: Bool
        public var note: String
    }

    /// Detects the engine. TimescaleDB is used only when its extension is installed in the
    /// database; its engine is not built yet, so today this always answers native partitioning,
    /// and says so when TimescaleDB is available.
    public static func detect(client: PostgresClient) async throws -> Detection {
        let rows = try await client.query("""
            SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'),
                   EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
            """)
        let available = try rows[0].decode(Bool.self, column: 0)
        let installed = try rows[0].decode(Bool.self, column: 1)
        let note = switch (available, installed) {
        case (false, _): "TimescaleDB is not installed on the server; results use native range partitioning"
        case (true, false): "TimescaleDB is available but not enabled in this database; results use native range partitioning"
        case (true, true): "TimescaleDB is enabled, but Pinguin's hypertable engine is not built yet; results use native range partitioning"
        }
        return Detection(engine: .nativePartitioning, timescaleAvailable: available, note: note)
    }

    /// Detects the engine, logs which one is in use, and opens it.
    public static func open(client: PostgresClient, logger: Logger) async throws -> (any ResultStorage, Detection) {
        let detection = try await detect(client: client)
        logger.info("result storage selected", metadata: [
            "storage.engine": "\(detection.engine.rawValue)", "storage.note": "\(detection.note)",
        ])
        return (PartitionedResultStorage(client: client, logger: logger), detection)
    }
}
