import Foundation
public import PinguinPostgres

/// A database of its own for one test, on the test server, dropped afterwards: tests that migrate
/// up and down or count rows cannot disturb each other.
public enum TemporaryDatabase {
    /// Creates a fresh database, passes its configuration to `body`, and drops it afterwards.
    /// With `exclusive`, no other PostgreSQL test runs meanwhile, so `body` may stop or restart the server.
    public static func with<T: Sendable>(
        exclusive: Bool = false, _ body: (PostgresConfiguration) async throws -> T
    ) async throws -> T {
        if exclusive {
            return try await ServiceGate.postgres.exclusive { try await withoutGate(body) }
        }
        return try await ServiceGate.postgres.shared { try await withoutGate(body) }
    }

    private static func withoutGate<T: Sendable>(_ body: (PostgresConfiguration) async throws -> T) async throws -> T {
        let server = try PostgresConfiguration(TestServices.requireDatabaseURL())
        let name = "pinguin_test_\(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16))"
        try await admin(server, "CREATE DATABASE \(name)")
        do {
            let result = try await body(server.setting("dbname", to: name))
            try await admin(server, "DROP DATABASE \(name) WITH (FORCE)")
            return result
        } catch {
            try? await admin(server, "DROP DATABASE \(name) WITH (FORCE)")
            throw error
        }
    }

    /// Runs one statement on a connection of its own (the body may have restarted the server).
    private static func admin(_ server: PostgresConfiguration, _ sql: String) async throws {
        let connection = try await PostgresConnection.connect(configuration: server, logger: TestServices.logger())
        try await connection.execute(script: sql)
        await connection.close()
    }
}
