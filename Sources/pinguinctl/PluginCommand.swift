import ArgumentParser
import Dispatch
import Foundation
import PinguinPluginConformance
import PinguinWire
import PinguinctlKit
import Synchronization

/// `pinguinctl plugins` (alias `plugin`): the plugins the supervisors run, and the conformance
/// test for a plugin executable.
struct PluginsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins", abstract: "The checker plugins: what the supervisors run, and a conformance test.",
        subcommands: [PluginListCommand.self, PluginTestCommand.self], defaultSubcommand: PluginListCommand.self,
        aliases: ["plugin"])
}

struct PluginListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "The checker plugins the supervisors run.", aliases: ["ls"])

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let answer = try connection.client().call("plugin.list")
        let plugins = (answer.objectValue?["plugins"]?.arrayValue ?? []).compactMap(\.objectValue)
        output.emit(answer) { Tables.plugins(plugins).render() }
    }
}

struct PluginTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run a checker plugin executable through the protocol's conformance checks.",
        discussion: """
        Starts PATH as the supervisor would (environment PATH=/usr/bin:/bin, LANG=C.UTF-8, \
        PINGUIN_PLUGIN=1, PINGUIN_PLUGIN_PROTOCOL_VERSIONS=1; its own process group; working \
        directory /) and checks the handshake and its schemas, concurrent check.run answers \
        matched by id, check.cancel, ping, an unknown method, shutdown, exit at end of input and \
        that stdout carries protocol lines only. One line per check: "ok - …" or "FAIL - …"; the \
        plugin's stderr follows as "info - stderr: …".

        Each --case runs three times (all sent at once, up to the plugin's max_concurrency). \
        Without --case: one check per kind, target "" and config {}, any valid status.

        Exit status: 0 every check passed, 1 a check failed, 2 usage error (no such file, not \
        executable, a CONFIG that is not a JSON object).
        """)

    @OptionGroup var output: OutputOptions

    @Argument(help: "The plugin executable (pinguin-check-KIND).")
    var path: String

    @Option(name: .customLong("case"), parsing: .upToNextOption,
            help: ArgumentHelp("A check and the status it must answer (repeatable): target, config as a JSON object, up|down|degraded|unknown|any.",
                               valueName: "TARGET CONFIG STATUS"))
    var caseWords: [String] = []

    @Option(help: ArgumentHelp("The kind the --case checks are for (default: the plugin's first kind).", valueName: "KIND"))
    var kind: String?

    @Option(help: ArgumentHelp(
        "Seconds every answer but initialize's may take, and the plugin to exit at end of input (default: check.run 10, others 5).",
        valueName: "SECONDS"))
    var timeout: Double?

    @Option(help: ArgumentHelp("Seconds the initialize answer may take (default 15, the supervisor's limit).", valueName: "SECONDS"))
    var initializeTimeout: Double?

    func run() throws {
        var cases: [ConformanceCase] = []
        guard caseWords.count % 3 == 0 else {
            throw CLIFailure.usage("each --case takes three values, TARGET CONFIG STATUS (got \(caseWords.count) values in all; give PATH before the --case options)")
        }
        do {
            for start in stride(from: 0, to: caseWords.count, by: 3) {
                cases.append(try ConformanceCase(target: caseWords[start], config: caseWords[start + 1], status: caseWords[start + 2]))
            }
            try PluginConformance.checkExecutable(path)
        } catch {
            throw CLIFailure.usage(error.description)
        }
        /// A `--…timeout` in seconds as a duration: more than 0, at most an hour.
        func duration(_ seconds: Double, _ flag: String) throws -> Duration {
            guard seconds > 0, seconds <= 3600 else { throw CLIFailure.usage("\(flag) must be more than 0 and at most 3600 seconds") }
            return .milliseconds(Int64((seconds * 1000).rounded()))
        }
        var configuration = PluginConformance.Configuration()
        if let timeout { configuration = PluginConformance.Configuration(timeout: try duration(timeout, "--timeout")) }
        if let initializeTimeout { configuration.initializeTimeout = try duration(initializeTimeout, "--initialize-timeout") }
        configuration.kind = kind
        let report = Self.wait(for: PluginConformance(path: path, cases: cases, configuration: configuration))
        output.emit(report.json) { report.text }
        if !report.passed { throw ExitCode(CLIFailure.Code.failed.rawValue) }
    }

    /// Runs the async test from the synchronous command: the main thread waits, the work runs on
    /// the cooperative pool and NIO's event loop.
    private static func wait(for conformance: PluginConformance) -> ConformanceReport {
        let done = DispatchSemaphore(value: 0)
        let box = ReportBox()
        Task {
            let report = await conformance.run()
            box.report.withLock { $0 = report }
            done.signal()
        }
        done.wait()
        return box.report.withLock { $0! }
    }
}

private final class ReportBox: Sendable {
    let report = Mutex<ConformanceReport?>(nil)
}
