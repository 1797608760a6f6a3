import Foundation
import PinguinIngester
import PinguinModel
import PinguinRedis
import PinguinTestSupport
import PinguinWire
import Testing

/// pinguinctl against a real pinguind: apply (idempotent, dry run, prune, depends_on by name),
/// export round trip, pause state kept, file errors, JSON output and watch.
@Suite("pinguinctl end to end", .enabled(if: TestServices.postgresEnabled && TestServices.redisEnabled, Comment(rawValue: TestServices.skipReason)),
       .timeLimit(.minutes(3)))
struct PinguinctlEndToEndTests {
    struct Failure: Error, CustomStringConvertible { var description: String }

    @Test("apply creates, changes nothing the second time, keeps the pause state, prunes; export round-trips; watch prints events; channel test and notifications ls")
    func applyExportWatch() async throws {
        try await ServiceGate.redis.shared {
            try await ServiceGate.postgres.shared {
                try await run()
            }
        }
    }

    private func run() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pinguin-ctl-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let socket = folder + "/pinguind.sock"
        let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let pinguind = binaries.appendingPathComponent("pinguind").path
        let ctl = binaries.appendingPathComponent("pinguinctl").path
        guard FileManager.default.isExecutableFile(atPath: ctl) else { throw Failure(description: "\(ctl) is missing: build all products first") }
        let daemon = try ChildProcess.start(pinguind, arguments: ["run", "--roles", "control", "--rpc-socket", socket, "--rpc-tcp", "off"])
        defer {
            daemon.stopInBackground()
            try? FileManager.default.removeItem(atPath: folder)
        }
        for _ in 0..<600 where !FileManager.default.fileExists(atPath: socket) { try await Task.sleep(for: .milliseconds(50)) }
        let environment = ["PINGUIN_SOCKET": socket, "NO_COLOR": "1"]
        func sh(_ command: String) async throws -> (status: Int32, output: String) {
            try await ChildProcess.run("/bin/sh", arguments: ["-c", command], environment: environment.merging(["CTL": ctl, "DIR": folder]) { $1 })
        }
        let namespace = "e2e-\(UUID().uuidString.prefix(6).lowercased())"
        let manifest = """
            namespace: \(namespace)
            monitors:
              - name: web
                kind: http
                target: http://127.0.0.1:1/
                interval: 30s
                tags: [front]
                depends_on: [db]
              - name: db
                kind: tcp
                target: 127.0.0.1:5432
                interval: 1m
            """
        try manifest.write(toFile: folder + "/monitors.yaml", atomically: true, encoding: .utf8)

        let planned = try await sh(#""$CTL" apply -f "$DIR/monitors.yaml" --dry-run --exit-code"#)
        #expect(planned.status == 4, "\(planned.output)")
        #expect(planned.output.contains("+ create monitor \(namespace)/web (http http://127.0.0.1:1/ every 30s, depends on db)"), "\(planned.output)")
        let dbFirst = planned.output.range(of: "create monitor \(namespace)/db").map { $0.lowerBound < planned.output.range(of: "create monitor \(namespace)/web")!.lowerBound }
        #expect(dbFirst == true, "a dependency is created before its dependents: \(planned.output)")
        #expect(try await sh(#""$CTL" monitor ls -n \#(namespace) -o json"#).output.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")

        let applied = try await sh(#""$CTL" apply -f "$DIR/monitors.yaml""#)
        #expect(applied.status == 0, "\(applied.output)")
        let again = try await sh(#""$CTL" apply -f "$DIR/monitors.yaml" --dry-run --exit-code"#)
        #expect(again.status == 0 && again.output.contains("2 unchanged"), "\(again.output)")

        // depends_on: by name in the file, by id on the server, by id and name in get, refused when it would close a cycle.
        let db = try JSONParser.parse(try await sh(#""$CTL" monitor get \#(namespace)/db -o json"#).output).objectValue
        let dbID = try #require(db?["id"]?.int64Value)
        let shown = try await sh(#""$CTL" monitor get \#(namespace)/web"#)
        #expect(shown.output.contains("depends_on:") && shown.output.contains("\(dbID) (\(namespace)/db)"), "\(shown.output)")
        let wide = try await sh(#""$CTL" monitor ls -n \#(namespace) -o wide"#)
        #expect(wide.output.contains("DEPENDS ON") && wide.output.split(separator: "\n").contains { $0.contains("/web") && $0.contains(" db ") }, "\(wide.output)")
        let cycle = try await sh(#""$CTL" monitor edit \#(namespace)/db --depends-on \#(namespace)/web"#)
        #expect(cycle.status == 1 && cycle.output.contains("depends_on would make a cycle"), "\(cycle.output)")
        let unknown = try await sh(#""$CTL" monitor edit \#(namespace)/db --depends-on \#(namespace)/nothing"#)
        #expect(unknown.status == 1 && unknown.output.contains("no monitor \(namespace)/nothing"), "\(unknown.output)")
        try "namespace: \(namespace)\nmonitors:\n  - {name: x, kind: tcp, target: 'x:1', depends_on: [y]}\n  - {name: y, kind: tcp, target: 'y:1', depends_on: [x]}\n"
            .write(toFile: folder + "/cycle.yaml", atomically: true, encoding: .utf8)
        let cyclic = try await sh(#""$CTL" apply -f "$DIR/cycle.yaml""#)
        #expect(cyclic.status == 2 && cyclic.output.contains("depends_on makes a cycle: \(namespace)/x -> \(namespace)/y -> \(namespace)/x"), "\(cyclic.output)")

        // Paused by hand: applying the file (which says nothing about pausing) keeps it paused.
        #expect(try await sh(#""$CTL" monitor pause \#(namespace)/web"#).status == 0)
        #expect(try await sh(#""$CTL" apply -f "$DIR/monitors.yaml""#).status == 0)
        let web = try JSONParser.parse(try await sh(#""$CTL" monitor get \#(namespace)/web -o json"#).output).objectValue
        #expect(web?["paused"] == .bool(true) && web?["interval_ms"] == .number("30000") && web?["version"] == .number("2"), "\(String(describing: web))")

        // Export, then apply the export: nothing to do.
        let roundTrip = try await sh(#""$CTL" export -n \#(namespace) | "$CTL" apply -f - --dry-run --exit-code"#)
        #expect(roundTrip.status == 0, "\(roundTrip.output)")

        // A changed file updates only what changed; --prune removes what the file dropped.
        let changed = manifest.replacingOccurrences(of: "interval: 30s", with: "interval: 20s")
            .replacingOccurrences(of: "    depends_on: [db]\n", with: "")
            .components(separatedBy: "  - name: db")[0]
        try changed.write(toFile: folder + "/monitors.yaml", atomically: true, encoding: .utf8)
        let pruned = try await sh(#""$CTL" apply -f "$DIR/monitors.yaml" --prune"#)
        #expect(pruned.status == 0, "\(pruned.output)")
        let remaining = try JSONParser.parse(try await sh(#""$CTL" monitor ls -n \#(namespace) -o json"#).output).arrayValue ?? []
        #expect(remaining.count == 1 && remaining.first?.objectValue?["interval_ms"] == .number("20000"), "\(remaining)")
        #expect(remaining.first?.objectValue?["depends_on"] == .array([]), "the pruned dependency's link went with it: \(remaining)")

        // A broken file changes nothing and says where.
        try "namespace: \(namespace)\nmonitors:\n  - name: web\n    kind: http\n    target: x\n    interval: 30x\n".write(
            toFile: folder + "/broken.yaml", atomically: true, encoding: .utf8)
        let broken = try await sh(#""$CTL" apply -f "$DIR/broken.yaml""#)
        #expect(broken.status == 2 && broken.output.contains("broken.yaml") && broken.output.contains("interval"), "\(broken.output)")

        // watch: events published while it runs are printed as JSON lines.
        let marker = "watch-\(UUID().uuidString.prefix(8))"
        let redis = RedisClient(try RedisConfiguration(url: TestServices.requireRedisURL()), logger: TestServices.logger())
        let id = try #require(web?["id"]?.int64Value)
        async let watched = sh(#"timeout 4 "$CTL" watch -o json --monitor \#(id) > "$DIR/watch.out" 2>&1; cat "$DIR/watch.out""#)
        for index in 0..<12 {
            try await Task.sleep(for: .milliseconds(250))
            let result = CheckResult(monitorID: id, scheduledAt: Date(), status: .down, slotMilliseconds: 30_000, message: "\(marker) \(index)")
            try await EventPublisher(redis: redis).publish(results: [result])
        }
        let output = try await watched.output
        await redis.close()
        let lines = output.split(separator: "\n").filter { $0.contains(marker) }
        #expect(lines.count >= 3, "\(output)")
        #expect(lines.allSatisfy { (try? JSONParser.parse(String($0)))?.objectValue?["method"] == .string("events.event") }, "\(output)")
        #expect(try await sh(#""$CTL" monitor rm \#(namespace)/web"#).status == 0)

        // channel test sends now and says whether it arrived; notifications ls shows the outbox.
        let receiver = try await NotifyReceiver.http()
        defer { receiver.stopInBackground() }
        func channel(_ name: String, _ path: String) async throws -> Int64 {
            let added = try await sh(#""$CTL" channel add \#(name) -n \#(namespace) --kind webhook --set url=\#(receiver.url(path)) -o json"#)
            #expect(added.status == 0, "\(added.output)")
            return try #require((try? JSONParser.parse(added.output))?.objectValue?["id"]?.int64Value)
        }
        let good = try await channel("hook", "/hook")
        let tested = try await sh(#""$CTL" channel test \#(good) --message 'hello from the test'"#)
        #expect(tested.status == 0, "\(tested.output)")
        #expect(tested.output.hasPrefix("channel \(good): test notification delivered (200) in "), "\(tested.output)")
        let sent = receiver.bodies(at: "/hook")
        #expect(sent.count == 1)
        #expect(sent.first?["event"] == .string("test") && sent.first?["message"] == .string("hello from the test"))
        let bad = try await channel("gone", "/status/404/gone")
        let refused = try await sh(#""$CTL" channel test \#(bad)"#)
        #expect(refused.status == 1, "\(refused.output)")
        #expect(refused.output.contains("the test notification was not delivered: the receiver answered HTTP 404: status 404"), "\(refused.output)")
        let listed = try await sh(#""$CTL" notifications ls --channel \#(good) --state failed"#)
        #expect(listed.status == 0 && listed.output.hasPrefix("ID"), "\(listed.output)")
        let wrongState = try await sh(#""$CTL" notifications ls --state lost"#)
        #expect(wrongState.status == 1 && wrongState.output.contains("state must be one of pending, sending, delivered, failed"), "\(wrongState.output)")
        #expect(try await sh(#""$CTL" channel rm \#(good) \#(bad)"#).status == 0)
    }

    @Test("pinguinctl over TLS: verified with the CA file, refused for a wrong name or an unknown CA")
    func tls() async throws {
        try await ServiceGate.redis.shared {
            try await ServiceGate.postgres.shared {
                let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pinguin-ctltls-\(UUID().uuidString.prefix(8))").path
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(atPath: folder) }
                try await makeTestCertificate(in: folder)
                let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
                let socket = folder + "/pinguind.sock"
                let port = try Self.freePort()
                let daemon = try ChildProcess.start(binaries.appendingPathComponent("pinguind").path, arguments: [
                    "run", "--roles", "control", "--rpc-socket", socket, "--rpc-tcp", "127.0.0.1:\(port)",
                    "--rpc-tls-cert", folder + "/cert.pem", "--rpc-tls-key", folder + "/key.pem",
                ])
                defer { daemon.stopInBackground() }
                for _ in 0..<600 where !FileManager.default.fileExists(atPath: socket) { try await Task.sleep(for: .milliseconds(50)) }
                try #require(FileManager.default.fileExists(atPath: socket), "pinguind did not start within 30 s")
                let ctl = binaries.appendingPathComponent("pinguinctl").path
                func sh(_ command: String) async throws -> (status: Int32, output: String) {
                    try await ChildProcess.run("/bin/sh", arguments: ["-c", command], environment: [
                        "CTL": ctl, "DIR": folder, "PINGUIN_SOCKET": "", "PINGUIN_TCP": "127.0.0.1:\(port)", "PINGUIN_CONFIG": "",
                    ])
                }
                let token = try await sh(#""$CTL" token create tls-test --scope read --socket "$DIR/pinguind.sock" > "$DIR/token""#)
                #expect(token.status == 0, "\(token.output)")
                let verified = try await sh(#""$CTL" status --tls-ca-file "$DIR/cert.pem" --token-file "$DIR/token""#)
                #expect(verified.status == 0 && verified.output.contains("healthy: yes"), "\(verified.output)")
                let wrongName = try await sh(#""$CTL" status --tls-ca-file "$DIR/cert.pem" --tls-server-name other.example --token-file "$DIR/token""#)
                #expect(wrongName.status == 3 && wrongName.output.contains("mismatch"), "\(wrongName.output)")
                let unknownCA = try await sh(#""$CTL" status --tls --token-file "$DIR/token""#)
                #expect(unknownCA.status == 3 && unknownCA.output.contains("self-signed"), "\(unknownCA.output)")
                let plain = try await sh(#""$CTL" status --token-file "$DIR/token""#)
                #expect(plain.status == 3 && plain.output.contains("--tls"), "\(plain.output)")
            }
        }
    }

    /// A TCP port nobody listens on right now (the kernel picks it).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(fd, pointer, length) == 0 else { return -1 }
                return getsockname(fd, pointer, &length)
            }
        }
        guard bound == 0 else { throw Failure(description: "no free port: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
