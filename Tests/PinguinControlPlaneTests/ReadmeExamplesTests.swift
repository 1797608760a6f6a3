import Foundation
import PinguinTestSupport
import Testing

/// Runs the README's control-plane shell examples verbatim against a real `pinguind`.
@Suite("README control-plane examples", .enabled(if: TestServices.postgresEnabled && TestServices.redisEnabled, Comment(rawValue: TestServices.skipReason)), .timeLimit(.minutes(2)))
struct ReadmeExamplesTests {
    /// The README's example commands: the lines between the markers in README.md.
    static func readmeExamples() throws -> [String] {
        let readme = try String(contentsOf: TestServices.repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        guard let start = readme.range(of: "<!-- control-plane-examples -->"),
              let end = readme.range(of: "<!-- /control-plane-examples -->", range: start.upperBound..<readme.endIndex)
        else { throw Failure(description: "README.md has no control-plane example block") }
        return readme[start.upperBound..<end.lowerBound].split(separator: "\n").map(String.init)
            .filter { $0.hasPrefix("$ ") }.map { String($0.dropFirst(2)) }
    }

    struct Failure: Error, CustomStringConvertible { var description: String }

    @Test("every example prints what the README shows")
    func examples() async throws {
        try await ServiceGate.redis.shared {
            try await ServiceGate.postgres.shared {
                try await runExamples()
            }
        }
    }

    private func runExamples() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pinguin-readme-\(UUID().uuidString.prefix(8))").path
        let socket = folder + "/pinguind.sock"
        let pinguind = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("pinguind").path
        guard FileManager.default.isExecutableFile(atPath: pinguind) else {
            throw Failure(description: "\(pinguind) is missing: build all products first (scripts/test does)")
        }
        // pinguind with just the control plane; it migrates the test database at start-up.
        let daemon = try ChildProcess.start(pinguind, arguments: ["run", "--roles", "control", "--rpc-socket", socket, "--rpc-tcp", "127.0.0.1:0"])
        defer {
            daemon.terminate()
            try? FileManager.default.removeItem(atPath: folder)
        }
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: socket) {
            try await Task.sleep(for: .milliseconds(50))
        }
        let readme = try String(contentsOf: TestServices.repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let examples = try Self.readmeExamples()
        #expect(examples.count >= 3)
        for example in examples {
            let (status, output) = try await ChildProcess.run("/bin/sh", arguments: ["-c", example], environment: ["PINGUIN_SOCKET": socket])
            #expect(status == 0, "\(example) exited \(status): \(output)")
            // The README shows each command's output right under it.
            let shown = readme.components(separatedBy: "$ " + example + "\n").dropFirst().first?.split(separator: "\n").first.map(String.init)
            #expect(output.trimmingCharacters(in: .whitespacesAndNewlines) == shown, "\(example)")
        }
        // rpc.discover lists exactly what the server answers.
        let discover = #"printf '%s\n' '{"jsonrpc":"2.0","method":"rpc.discover","id":1}' | nc -N -U "$PINGUIN_SOCKET" | jq -r '.result.methods[].name'"#
        let (_, listed) = try await ChildProcess.run("/bin/sh", arguments: ["-c", discover], environment: ["PINGUIN_SOCKET": socket])
        let names = listed.split(separator: "\n").map(String.init)
        #expect(names.sorted() == ["auth", "latency.get", "monitor.create", "monitor.delete", "monitor.get", "monitor.list",
                                   "monitor.pause", "monitor.resume", "monitor.update", "result.list", "rpc.discover", "system.health", "system.version",
                                   "token.create", "token.list", "token.revoke", "uptime.get"])
        for name in names {
            let call = #"printf '%s\n' '{"jsonrpc":"2.0","method":"\#(name)","id":1}' | nc -N -U "$PINGUIN_SOCKET" | jq -r '.error.code // "ok"'"#
            let (_, answer) = try await ChildProcess.run("/bin/sh", arguments: ["-c", call], environment: ["PINGUIN_SOCKET": socket])
            // Served: anything but "method not found" (methods that need parameters say which).
            #expect(!["-32601", ""].contains(answer.trimmingCharacters(in: .whitespacesAndNewlines)), "\(name): \(answer)")
        }
        // pinguinctl against the same daemon, exit statuses included.
        let ctl = (pinguind as NSString).deletingLastPathComponent + "/pinguinctl"
        let env = ["PINGUIN_SOCKET": socket]
        let status = try await ChildProcess.run(ctl, arguments: ["status"], environment: env)
        #expect(status.status == 0 && status.output.contains("healthy: yes"), "\(status.output)")
        let missing = try await ChildProcess.run(ctl, arguments: ["call", "monitor.get", #"{"id":999999}"#], environment: env)
        #expect(missing.status == 1 && missing.output.contains("[not_found]"), "\(missing.output)")
        let badJSON = try await ChildProcess.run(ctl, arguments: ["call", "monitor.get", "{bad"], environment: env)
        #expect(badJSON.status == 2, "\(badJSON.output)")
        let unreachable = try await ChildProcess.run(ctl, arguments: ["status", "--socket", folder + "/none.sock"], environment: env)
        #expect(unreachable.status == 3, "\(unreachable.output)")
        let version = try await ChildProcess.run(ctl, arguments: ["call", "system.version"], environment: env)
        #expect(version.output.trimmingCharacters(in: .whitespacesAndNewlines) == #"{"version":"0.1.0-dev","protocol":"jsonrpc-2.0"}"#)

        let stopped = daemon.terminate()
        #expect(stopped == 0, "pinguind should exit 0 on SIGTERM")
    }
}
