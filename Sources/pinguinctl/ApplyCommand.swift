import ArgumentParser
import Foundation
import PinguinWire
import PinguinctlKit

struct ApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Make the server's monitors match YAML files: create, update, and with --prune delete.",
        discussion: """
        A file holds one or more YAML documents (separated by ---). Each is one monitor, or a \
        mapping with a `monitors:` list and an optional `namespace:` its monitors default to:

          namespace: shop
          monitors:
            - name: web
              kind: http
              target: https://shop.example.com/health
              interval: 30s            # or interval_ms: 30000; also timeout, retry_interval
              failure_threshold: 3
              tags: [frontend]
              depends_on: [db]         # by name; db is created first
              config: {expected_status: 200}
            - name: db
              kind: tcp
              target: db.internal:5432
              paused: true             # only when given does apply pause or resume

        Fields: namespace (default: default), name, kind, target (required), interval, timeout, \
        retry_interval, failure_threshold, recovery_threshold, upside_down, enabled, tags, \
        locations, depends_on, description, config, paused. id, version, status and timestamps \
        are ignored, so `pinguinctl export` output and `monitor get -o yaml` can be applied.

        depends_on lists monitors by NAME (in the monitor's namespace), NAMESPACE/NAME or id, in \
        the files or on the server: while one of them is down, this monitor's alerts are held \
        back. Monitors are created and changed after the ones they depend on; a cycle is an error.

        Monitors are matched by namespace and name. Fields a file leaves out keep their value on \
        the server; changed fields are sent in one monitor.update guarded by the monitor's \
        version, so applying the same file twice changes nothing and never resets a monitor's \
        state. --prune deletes monitors the files no longer have, only in namespaces the files \
        name. The files are checked completely before anything changes: an error names the \
        file, line, document and field, and exits 2.
        """
    )

    @OptionGroup var connection: ConnectionOptions

    @Option(name: [.short, .customLong("filename")], help: ArgumentHelp("A YAML file, a directory of *.yaml and *.yml files, or - for stdin (repeatable).", valueName: "path"),
            completion: .file(extensions: ["yaml", "yml"]))
    var files: [String]

    @Flag(help: "Show what would change (+ create, ~ update, - delete) and change nothing.")
    var dryRun = false

    @Flag(help: "Delete monitors in the files' namespaces that the files do not declare.")
    var prune = false

    @Flag(help: "With --dry-run: exit 4 when there are changes.")
    var exitCode = false

    func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one -f FILE") }
        if exitCode && !dryRun { throw ValidationError("--exit-code goes with --dry-run") }
    }

    func run() throws {
        let manifest = try Self.load(files)
        let client = try connection.client()
        let runner = ApplyRunner(client: client)
        let plan = try runner.plan(manifest, prune: prune)
        if !plan.problems.isEmpty {
            for problem in plan.problems { Terminal.error(problem) }
            throw CLIFailure("nothing was changed", code: .failed)
        }
        if dryRun {
            for line in plan.diffLines { Terminal.write(Self.colour(line) + "\n") }
            Terminal.write("\(plan.summary) (dry run)\n")
            if exitCode && plan.hasChanges { throw ExitCode(CLIFailure.Code.changes.rawValue) }
            return
        }
        let failures = runner.execute(plan, report: { Terminal.write($0 + "\n") }, warn: { Terminal.error($0) })
        Terminal.write(plan.summary(done: true) + (failures > 0 ? ", \(failures) failed" : "") + "\n")
        if failures > 0 { throw ExitCode(1) }
    }

    private static func colour(_ line: String) -> String {
        guard Terminal.colour, let first = line.first else { return line }
        let code = first == "+" ? "32" : first == "-" ? "31" : "33"
        return "\u{1B}[\(code)m\(line)\u{1B}[0m"
    }

    /// Reads and checks every file (directories: their *.yaml and *.yml, sorted).
    static func load(_ paths: [String]) throws -> Manifest {
        var parts: [(source: String, manifest: Manifest)] = []
        for path in paths {
            for file in try expand(path) {
                let text: String
                if file == "-" {
                    text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
                } else {
                    guard let data = FileManager.default.contents(atPath: file) else { throw CLIFailure.usage("\(file): cannot read it") }
                    text = String(decoding: data, as: UTF8.self)
                }
                let source = file == "-" ? "stdin" : file
                parts.append((source, try Manifest.parse(text, source: source)))
            }
        }
        return try Manifest.combine(parts)
    }

    private static func expand(_ path: String) throws -> [String] {
        guard path != "-" else { return ["-"] }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CLIFailure.usage("\(path): no such file or directory")
        }
        guard isDirectory.boolValue else { return [path] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        let files = names.filter { ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) && !$0.hasPrefix(".") }.sorted()
        guard !files.isEmpty else { throw CLIFailure.usage("\(path): no *.yaml or *.yml files in it") }
        return files.map { (path as NSString).appendingPathComponent($0) }
    }
}

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write monitors in the apply format.",
        discussion: """
        `pinguinctl export > monitors.yaml` then `pinguinctl apply -f monitors.yaml` changes \
        nothing. Values equal to the server's fixed defaults are left out, and so is the pause \
        state (add `paused: true` to manage it).
        """)

    @OptionGroup var connection: ConnectionOptions

    @Option(name: .shortAndLong, help: "Only this namespace (repeatable; default: all).")
    var namespace: [String] = []

    func run() throws {
        let client = try connection.client()
        var monitors: [JSONObject] = []
        if namespace.isEmpty {
            monitors = try client.allMonitors()
        } else {
            for name in namespace { monitors += try client.allMonitors(namespace: name) }
        }
        Terminal.write(Manifest.export(monitors, others: try client.dependencies(of: monitors, besides: monitors)))
    }
}
