import Foundation
import PinguinPluginHost
import PinguinWire

/// Runs a checker plugin through the rules of proto-docs/plugin-protocol.md the way the
/// supervisor talks to it (same environment, process group, handshake, deadlines, id matching
/// and end-of-process handling, all from `PinguinPluginHost`) and says what is wrong: the engine
/// of `pinguinctl plugin test`.
public struct PluginConformance: Sendable {
    public struct Configuration: Sendable {
        /// How long `initialize` may take (the supervisor's limit). Default 15 s.
        public var initializeTimeout: Duration = .seconds(15)
        /// How long each `check.run` may take; sent as its `deadline` and `timeout_ms`. Default 10 s.
        public var checkTimeout: Duration = .seconds(10)
        /// How long `ping`, `shutdown` and an unknown method may take. Default 5 s.
        public var answerTimeout: Duration = .seconds(5)
        /// How long the plugin may take to exit once its stdin closes; then SIGTERM, and SIGKILL
        /// as long again later. Default 5 s.
        public var exitGrace: Duration = .seconds(5)
        /// How often each case runs; all runs are sent at once, up to the plugin's max_concurrency. Default 3.
        public var repetitions = 3
        /// The kind the cases are for; nil: the plugin's first kind.
        public var kind: String?

        public init() {}

        /// Every wait but `initialize`'s set to `timeout` (`pinguinctl plugin test --timeout`).
        /// The handshake keeps the supervisor's limit: a plugin that starts slowly on a busy
        /// machine (an interpreter loading) is not a plugin that answers checks slowly.
        public init(timeout: Duration) {
            checkTimeout = timeout
            answerTimeout = timeout
            exitGrace = timeout
        }
    }

    /// The environment the supervisor gives its plugins, and nothing else.
    public static let environment: [String: String] = [
        "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PINGUIN_PLUGIN": "1",
        "PINGUIN_PLUGIN_PROTOCOL_VERSIONS": PluginHandshake.protocolVersions.map(String.init).joined(separator: ","),
    ]

    /// The plugin executable, as given (made absolute to start it: the plugin runs in `/`).
    public var path: String
    /// The checks to run; empty: one per kind, target "" and config {}, any valid status.
    public var cases: [ConformanceCase]
    public var configuration: Configuration

    public init(path: String, cases: [ConformanceCase], configuration: Configuration = Configuration()) {
        self.path = path
        self.cases = cases
        self.configuration = configuration
    }

    /// Checks that `path` names an executable file before anything runs (exit status 2 if not).
    public static func checkExecutable(_ path: String) throws(ConformanceUsageError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ConformanceUsageError("\(path): no such file")
        }
        guard !isDirectory.boolValue else { throw ConformanceUsageError("\(path) is a directory, not a plugin executable") }
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw ConformanceUsageError("\(path) is not executable (chmod +x it: the supervisor runs only executables)")
        }
    }

    /// Starts the plugin, runs every check, ends the plugin and returns the report. Never throws:
    /// whatever the plugin does is a line of the report.
    public func run() async -> ConformanceReport {
        var session = ConformanceSession(conformance: self)
        await session.run()
        return session.report
    }
}
