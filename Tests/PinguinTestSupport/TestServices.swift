public import Foundation
public import Logging

/// The real PostgreSQL and Redis that integration tests talk to.
///
/// `scripts/test` starts throwaway servers, exports `PINGUIN_DATABASE_URL` and `PINGUIN_REDIS_URL`,
/// and sets `PINGUIN_REQUIRE_SERVICES=1`: then every integration test runs, and a server that is
/// not there fails the test. Without that variable, integration tests run when the URLs are set and
/// are reported as skipped (with the reason) when they are not.
public enum TestServices {
    public static var environment: [String: String] { ProcessInfo.processInfo.environment }

    public static var required: Bool { environment["PINGUIN_REQUIRE_SERVICES"] == "1" }

    public static var databaseURL: String? { environment["PINGUIN_DATABASE_URL"] }
    public static var redisURL: String? { environment["PINGUIN_REDIS_URL"] }

    /// Whether PostgreSQL tests should run: when required, always (and fail without a server).
    public static var postgresEnabled: Bool { required || databaseURL != nil }
    public static var redisEnabled: Bool { required || redisURL != nil }

    public static let skipReason = "set PINGUIN_DATABASE_URL/PINGUIN_REDIS_URL (eval \"$(scripts/services env)\") or run scripts/test"

    /// The URL, or a clear failure when the test run requires services and none is configured.
    public static func requireDatabaseURL() throws -> String {
        guard let url = databaseURL else { throw MissingService(variable: "PINGUIN_DATABASE_URL") }
        return url
    }

    public static func requireRedisURL() throws -> String {
        guard let url = redisURL else { throw MissingService(variable: "PINGUIN_REDIS_URL") }
        return url
    }

    public struct MissingService: Error, CustomStringConvertible {
        public var variable: String
        public var description: String { "\(variable) is not set; start the services with scripts/services start and eval \"$(scripts/services env)\"" }
    }

    /// The repository's root, found from this file's path.
    public static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// Runs `scripts/services ARGUMENTS…` (e.g. `restart postgres`) and waits for it.
    ///
    /// Uses `posix_spawn` and `waitpid` on a thread of its own: Foundation's `Process.waitUntilExit`
    /// was seen to hang here when called from a task.
    public static func runServicesScript(_ arguments: String...) async throws {
        let script = repositoryRoot.appendingPathComponent("scripts/services").path
        let (status, output) = try await ChildProcess.run(script, arguments: arguments)
        guard status == 0 else {
            throw ScriptFailed(arguments: arguments, status: status, output: output)
        }
    }

    public struct ScriptFailed: Error, CustomStringConvertible {
        public var arguments: [String]
        public var status: Int32
        public var output: String
        public var description: String { "scripts/services \(arguments.joined(separator: " ")) exited \(status): \(output)" }
    }

    /// A logger whose records stay in memory (see ``InMemoryLogHandler``).
    public static func logger(_ label: String = "test") -> Logger {
        Logger(label: label) { _ in InMemoryLogHandler() }
    }
}
