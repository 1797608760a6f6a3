import Foundation
import PinguinTestSupport
import PinguinWire
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

    @Test("with Redis unreachable, pinguind still answers, says what is missing, and stops cleanly")
    func redisDown() async throws {
        try await ServiceGate.postgres.shared {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pinguin-noredis-\(UUID().uuidString.prefix(8))").path
            let socket = folder + "/pinguind.sock"
            let pinguind = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("pinguind").path
            let daemon = try ChildProcess.start(pinguind, arguments: [
                "run", "--roles", "control", "--rpc-socket", socket, "--rpc-tcp", "off", "--redis-url", "redis://127.0.0.1:1",
            ])
            defer { try? FileManager.default.removeItem(atPath: folder) }
            for _ in 0..<600 where !FileManager.default.fileExists(atPath: socket) {
                try await Task.sleep(for: .milliseconds(50))
            }
            let started = Date()
            let calls = #"printf '%s\n' '{"jsonrpc":"2.0","method":"system.health","id":1}' '{"jsonrpc":"2.0","method":"plugin.list","id":2}' | nc -N -U "$PINGUIN_SOCKET" | jq -c '[.id, (if .result then .result.healthy else .error.data.kind end)]' | sort"#
            let (_, output) = try await ChildProcess.run("/bin/sh", arguments: ["-c", calls], environment: ["PINGUIN_SOCKET": socket])
            #expect(output.split(separator: "\n") == ["[1,false]", #"[2,"unavailable"]"#], "\(output)")
            #expect(await daemon.stop() == 0, "pinguind should stop cleanly although Redis never answered")
            #expect(Date().timeIntervalSince(started) < 15, "answers without Redis must not wait for its timeouts")
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
            daemon.stopInBackground()
            try? FileManager.default.removeItem(atPath: folder)
        }
        for _ in 0..<600 where !FileManager.default.fileExists(atPath: socket) {
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
        let document = try JSONParser.parse(Data(contentsOf: TestServices.repositoryRoot.appendingPathComponent("proto-docs/openrpc.json")))
        let documented = (document.objectValue?["methods"]?.arrayValue ?? []).compactMap { $0.objectValue?["name"]?.stringValue }
        #expect(names.sorted() == documented.sorted())
        #expect(names.count >= 30)
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

        // A third-party JSON-RPC client from PyPI (jsonrpcclient, installed by scripts/test).
        let python = """
            import json, socket, sys
            from jsonrpcclient import request_json, notification_json, parse_json, Ok, Error
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(sys.argv[1])
            reader = sock.makefile("rb")
            def call(method, **params):
                sock.sendall((request_json(method, params=params) if params else request_json(method)).encode() + b"\\n")
                return parse_json(reader.readline().decode())
            version = call("system.version")
            assert isinstance(version, Ok) and version.result["protocol"] == "jsonrpc-2.0", version
            created = call("monitor.create", name="from-python", kind="http", target="http://127.0.0.1:1/", interval_ms=30000)
            assert isinstance(created, Ok), created
            fetched = call("monitor.get", id=created.result["id"])
            assert isinstance(fetched, Ok) and fetched.result["name"] == "from-python", fetched
            sock.sendall(notification_json("monitor.pause", params={"id": created.result["id"]}).encode() + b"\\n")
            missing = call("monitor.get", id=999999)
            assert isinstance(missing, Error) and missing.code == 1004 and missing.data["kind"] == "not_found", missing
            bad = call("monitor.create", name="x", kind="http")
            assert isinstance(bad, Error) and bad.code == -32602 and bad.data["field"] == "target", bad
            # The notification ran concurrently and was not answered; its effect shows soon.
            import time
            for _ in range(50):
                after = call("monitor.get", id=created.result["id"])
                if after.result["paused"]: break
                time.sleep(0.05)
            assert after.result["paused"] is True, after
            deleted = call("monitor.delete", id=created.result["id"])
            assert isinstance(deleted, Ok), deleted
            print("python client ok")
            """
        let pythonPath = ProcessInfo.processInfo.environment["PINGUIN_TEST_PYTHONPATH"] ?? TestServices.repositoryRoot.appendingPathComponent(".pinguin/pylib").path
        let client = try await ChildProcess.run("/usr/bin/env", arguments: ["python3", "-c", python, socket], environment: ["PYTHONPATH": pythonPath])
        #expect(client.status == 0 && client.output.contains("python client ok"), "\(client.output)")

        let stopped = await daemon.stop()
        #expect(stopped == 0, "pinguind should exit 0 on SIGTERM")
    }
}
