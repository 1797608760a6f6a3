import Foundation
import PinguinTestSupport
import PinguinWire
import Testing

/// The built `pinguinctl plugin test` against the example plugins (they pass), the built-in
/// `pinguin-check-null`, and a plugin broken on purpose in each way it can be (each fails with
/// the line that says how).
@Suite("pinguinctl plugin test", .timeLimit(.minutes(3)))
struct PluginTestCommandTests {
    struct Failure: Error, CustomStringConvertible { var description: String }

    static let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    static let ctl = binaries.appendingPathComponent("pinguinctl").path
    static let root = TestServices.repositoryRoot.path
    static let misbehaving = root + "/Tests/Fixtures/plugins/misbehaving.py"

    /// Runs `pinguinctl ARGUMENTS…` in `directory` (default: the repository), stdout and stderr together.
    func pinguinctl(_ arguments: [String], in directory: String = root) async throws -> (status: Int32, output: String) {
        guard FileManager.default.isExecutableFile(atPath: Self.ctl) else { throw Failure(description: "\(Self.ctl) is missing: build pinguinctl first") }
        return try await ChildProcess.run("/bin/sh", arguments: ["-c", #"cd "$0" && exec "$@""#, directory, Self.ctl] + arguments,
                                          environment: ["NO_COLOR": "1"])
    }

    /// A folder holding `pinguin-check-MODE`, a wrapper that runs the misbehaving plugin in that mode.
    func brokenPlugin(_ mode: String, before: String = "") throws -> (folder: String, path: String) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pinguin-plugin-test-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/pinguin-check-\(mode)"
        try "#!/bin/sh\n\(before)exec /usr/bin/python3 \(Self.misbehaving) \(mode) x\n".write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        return (folder, path)
    }

    /// The text block after `<!-- output: NAME -->` in proto-docs/plugin-protocol.md.
    func documentedOutput(_ name: String) throws -> String {
        let document = try String(contentsOfFile: Self.root + "/proto-docs/plugin-protocol.md", encoding: .utf8)
        guard let marker = document.range(of: "<!-- output: \(name) -->"),
              let start = document.range(of: "```text\n", range: marker.upperBound..<document.endIndex),
              let end = document.range(of: "```", range: start.upperBound..<document.endIndex)
        else { throw Failure(description: "no output block \(name) in plugin-protocol.md") }
        return String(document[start.upperBound..<end.lowerBound])
    }

    @Test("the Python example passes, printing exactly the output plugin-protocol.md shows")
    func pythonExampleAsDocumented() async throws {
        let run = try await pinguinctl(["plugin", "test", "proto-docs/examples/python/pinguin-check-file",
                                        "--case", "/etc/hostname", "{}", "up", "--case", "/nonexistent", "{}", "down"])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output == (try documentedOutput("plugin-test-pass")))
    }

    @Test("the shell example passes, with cases and without (one check per kind)")
    func shellExample() async throws {
        let withCases = try await pinguinctl(["plugin", "test", "proto-docs/examples/shell/pinguin-check-path",
                                              "--case", "/etc", #"{"type":"directory"}"#, "up",
                                              "--case", "/etc/hostname", #"{"type":"file"}"#, "up",
                                              "--case", "/nonexistent", "{}", "down"])
        #expect(withCases.status == 0, "\(withCases.output)")
        #expect(withCases.output.contains(#"ok - case 1: check.run "/etc" {"type":"directory"} answered up (3 times)"#), "\(withCases.output)")
        #expect(withCases.output.contains("ok - 9 check.run answers matched by id, each once (up to 1 in flight)"), "\(withCases.output)")
        #expect(withCases.output.hasSuffix("PASS proto-docs/examples/shell/pinguin-check-path: 12 checks\n"), "\(withCases.output)")
        let bare = try await pinguinctl(["plugin", "test", "proto-docs/examples/shell/pinguin-check-path"])
        #expect(bare.status == 0, "\(bare.output)")
        #expect(bare.output.contains(#"ok - kind path: check.run "" {} answered down (3 times)"#), "\(bare.output)")
    }

    @Test("pinguin-check-null passes (when built)")
    func nullPlugin() async throws {
        let null = Self.binaries.appendingPathComponent("pinguin-check-null").path
        guard FileManager.default.isExecutableFile(atPath: null) else { return }
        let run = try await pinguinctl(["plugin", "test", null, "--case", "x", "{}", "up", "--case", "x", #"{"status":"down"}"#, "down", "-o", "json"])
        #expect(run.status == 0, "\(run.output)")
        let report = try JSONParser.parse(Array(run.output.utf8)).objectValue
        #expect(report?["passed"] == .bool(true), "\(run.output)")
        #expect(report?["failures"] == .int(0))
    }

    @Test("a well-behaved plugin passes; the environment is the supervisor's and nothing else")
    func goodPluginAndEnvironment() async throws {
        let plugin = try brokenPlugin("good", before: "env | sort >&2\n")
        defer { try? FileManager.default.removeItem(atPath: plugin.folder) }
        let run = try await pinguinctl(["plugin", "test", plugin.path, "--case", "x", #"{"status":"degraded"}"#, "degraded"])
        #expect(run.status == 0, "\(run.output)")
        for line in ["info - stderr: PATH=/usr/bin:/bin", "info - stderr: LANG=C.UTF-8", "info - stderr: PINGUIN_PLUGIN=1",
                     "info - stderr: PINGUIN_PLUGIN_PROTOCOL_VERSIONS=1"] {
            #expect(run.output.contains(line + "\n"), "\(run.output)")
        }
        #expect(!run.output.contains("stderr: HOME="), "\(run.output)")
        #expect(!run.output.contains("stderr: NO_COLOR="), "\(run.output)")
    }

    @Test("a broken plugin fails with the line that says how", arguments: [
        ("garbage", ["FAIL - check.run: stdout carries something that is not a protocol answer, so the supervisor kills the plugin with 3 checks in flight: plugin protocol error: stdout line is not JSON",
                     "Traceback (most recent call last): oops\n"]),
        ("banner", ["FAIL - initialize: stdout carries something that is not a protocol answer", ": misbehaving plugin 1.0 starting\n"]),
        ("badresult", [#"FAIL - kind badresult: check.run "" {}: invalid result {"status":"sideways","message":42}: result.status must be one of up, down, degraded, unknown"#]),
        ("handshakeexit", ["FAIL - initialize: the plugin ended: plugin exited with status 4\n", "info - stderr: E! giving up during the handshake\n"]),
        ("crashmid", ["FAIL - check.run: the plugin ended with 3 checks in flight: plugin exited with status 2\n", "info - stderr: E! segmentation fault while checking"]),
        ("hang", [#"FAIL - kind hang: check.run "" {}: no answer within 1 s (3 of 3)"#, "FAIL - check.run: the plugin was ended: plugin stopped answering"]),
        ("wrongid", ["FAIL - stdout: an answer to id 1002, which was not asked or was answered already"]),
        ("dupid", ["FAIL - stdout: an answer to id 2, which was not asked or was answered already"]),
        ("rpcerror", ["answered error -32603 (could not open a raw socket: permission denied) instead of a result"]),
        ("hugeline", ["plugin protocol error: a line on stdout is longer than 1048576 bytes"]),
        ("ignoreterm", ["FAIL - still running 1 s after its stdin closed and 1 s after SIGTERM: killed with SIGKILL\n"]),
    ])
    func brokenPlugins(mode: String, lines: [String]) async throws {
        let plugin = try brokenPlugin(mode)
        defer { try? FileManager.default.removeItem(atPath: plugin.folder) }
        // hugeline builds its 100 MB line first, which a loaded machine may not do within 1 s.
        let run = try await pinguinctl(["plugin", "test", plugin.path, "--timeout", mode == "hugeline" ? "10" : "1"])
        #expect(run.status == 1, "\(run.output)")
        for line in lines {
            #expect(run.output.contains(line), "\(run.output)")
        }
        #expect(run.output.contains("\nFAIL \(plugin.path): "), "\(run.output)")
    }

    @Test("--initialize-timeout bounds the handshake, whatever --timeout says; both flags refuse 0")
    func initializeTimeout() async throws {
        let plugin = try brokenPlugin("handshakehang")
        defer { try? FileManager.default.removeItem(atPath: plugin.folder) }
        let started = ContinuousClock.now
        let run = try await pinguinctl(["plugin", "test", plugin.path, "--timeout", "1", "--initialize-timeout", "2"])
        #expect(run.status == 1, "\(run.output)")
        #expect(run.output.contains("FAIL - initialize: no answer within 2 s"), "\(run.output)")
        #expect(ContinuousClock.now - started < .seconds(14), "the handshake waited for its own limit, not the default 15 s")
        for flag in ["--timeout", "--initialize-timeout"] {
            let refused = try await pinguinctl(["plugin", "test", plugin.path, flag, "0"])
            #expect(refused.status == 2, "\(refused.output)")
            #expect(refused.output.contains("\(flag) must be more than 0 and at most 3600 seconds"), "\(refused.output)")
        }
    }

    @Test("the failing example in plugin-protocol.md is what a plugin printing a traceback gets")
    func failingExampleAsDocumented() async throws {
        let plugin = try brokenPlugin("garbage")
        defer { try? FileManager.default.removeItem(atPath: plugin.folder) }
        let run = try await pinguinctl(["plugin", "test", "./pinguin-check-garbage"], in: plugin.folder)
        #expect(run.status == 1, "\(run.output)")
        // The three checks are sent at once, but on a loaded machine the garbage can overtake the
        // third (or second) request: how many were in flight is the only part allowed to vary.
        let output = run.output.replacingOccurrences(of: #"with [12] checks? in flight"#, with: "with 3 checks in flight", options: .regularExpression)
        #expect(output == (try documentedOutput("plugin-test-fail")), "\(run.output)")
    }

    @Test("a case that fails: the wrong status, a config the kind's schema refuses")
    func failingCases() async throws {
        let plugin = try brokenPlugin("good")
        defer { try? FileManager.default.removeItem(atPath: plugin.folder) }
        let wrong = try await pinguinctl(["plugin", "test", plugin.path, "--case", "x", "{}", "down"])
        #expect(wrong.status == 1, "\(wrong.output)")
        #expect(wrong.output.contains(#"FAIL - case 1: check.run "x" {}: answered up, expected down (message: "answered up") (3 of 3)"#), "\(wrong.output)")
        let refused = try await pinguinctl(["plugin", "test", "proto-docs/examples/python/pinguin-check-file",
                                            "--case", "/etc/hostname", #"{"min_bytes":-1}"#, "up", "--case", "relative", "{}", "down"])
        #expect(refused.status == 1, "\(refused.output)")
        #expect(refused.output.contains(#"FAIL - case 1 "/etc/hostname" {"min_bytes":-1}: "#), "\(refused.output)")
        #expect(refused.output.contains("the kind's config_schema refuses this config"), "\(refused.output)")
        #expect(refused.output.contains("the kind's target_schema refuses this target"), "\(refused.output)")
    }

    @Test("usage errors exit 2: no such file, a directory, a config that is no JSON object, a bad status, --case without three values")
    func usageErrors() async throws {
        for arguments in [
            ["plugin", "test", "/nonexistent/pinguin-check-x"],
            ["plugin", "test", "/etc"],
            ["plugin", "test", "proto-docs/examples/python/pinguin-check-file", "--case", "/etc/hostname", "[]", "up"],
            ["plugin", "test", "proto-docs/examples/python/pinguin-check-file", "--case", "/etc/hostname", "{}", "sideways"],
            ["plugin", "test", "proto-docs/examples/python/pinguin-check-file", "--case", "/etc/hostname", "{}"],
            ["plugin", "test", "proto-docs/examples/python/pinguin-check-file", "--timeout", "0"],
        ] {
            let run = try await pinguinctl(arguments)
            #expect(run.status == 2, "\(arguments): \(run.output)")
        }
        let missing = try await pinguinctl(["plugin", "test", "/nonexistent/pinguin-check-x"])
        #expect(missing.output == "pinguinctl: /nonexistent/pinguin-check-x: no such file\n")
    }
}
