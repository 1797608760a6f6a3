import Foundation
import PinguinModel
import PinguinPluginHost
import PinguinRedis
@testable import PinguinSupervisor
import PinguinTestSupport
import PinguinWire
import Testing

@Suite("Supervisor with real plugin processes", .enabled(if: TestServices.redisEnabled, Comment(rawValue: TestServices.skipReason)))
struct SupervisorTests {
    @Test("a well-behaved plugin: results as it says, a registration with its kinds", .timeLimit(.minutes(3)))
    func wellBehaved() async throws {
        try await SupervisorFixture.with(modes: ["good"]) { fixture in
            let configuration = fixture.configuration()
            let supervisor = fixture.supervisor(configuration)
            try await fixture.running([supervisor]) {
                let up = try await fixture.job(monitor: 1, kind: "good", config: #"{"status":"up"}"#)
                let down = try await fixture.job(monitor: 2, kind: "good", config: #"{"status":"down"}"#)
                let results = try await fixture.waitForResults(2)
                #expect(results.count == 2)
                let byJob = Dictionary(uniqueKeysWithValues: results.map { ($0.job ?? "", $0) })
                #expect(byJob[up]?.status == .up)
                #expect(byJob[up]?.message == "answered up")
                #expect(byJob[down]?.status == .down)
                #expect(byJob[up]?.supervisor == configuration.id)
                #expect(byJob[up]?.startedAt != nil && byJob[up]?.finishedAt != nil)
                // Acknowledged and deleted once the result is in.
                let left = try await fixture.redis.send("XLEN", fixture.keys.jobs).int
                #expect(left == 0)
                let registration = try await fixture.registration(configuration.id)
                let good = fixture.plugin("misbehaving-good", in: registration)
                #expect(good?["state"]?.stringValue == "running")
                #expect(good?["kinds"]?.arrayValue?.first?.objectValue?["kind"]?.stringValue == "good")
                #expect(fixture.plugin("nagios (built in)", in: registration)?["kinds"]?.arrayValue?.count == 1)
            }
            // A graceful stop removes the registration.
            #expect(try await fixture.registration(configuration.id) == nil)
        }
    }

    /// Every way of misbehaving the issue names, all at once in one supervisor: each job gets
    /// exactly one result, never `down`, with a message that says what broke.
    @Test("misbehaving plugins never turn a check into down, and the supervisor survives them", .timeLimit(.minutes(2)))
    func misbehaving() async throws {
        let expectations: [(mode: String, fragment: String)] = [
            ("garbage", "plugin protocol error: stdout line is not JSON"),
            ("hugeline", "longer than 1048576 bytes"),
            ("partial", "plugin timeout"),
            ("hang", "plugin timeout"),
            ("crashmid", "exited with status 2"),
            ("wrongid", "answers in a row to ids it was not asked"),
            ("badresult", "result.status must be one of"),
            ("rpcerror", "plugin could not check: could not open a raw socket"),
            ("handshakeexit", "giving up during the handshake"),
            ("banner", "misbehaving plugin 1.0 starting"),
            ("crashloop", "cannot start: configuration missing"),
        ]
        try await SupervisorFixture.with(modes: expectations.map(\.mode) + ["dupid", "good"]) { fixture in
            let configuration = fixture.configuration()
            let supervisor = fixture.supervisor(configuration)
            try await fixture.running([supervisor]) {
                var jobs: [String: String] = [:]
                var monitor: Int64 = 100
                for (mode, _) in expectations + [("dupid", ""), ("good", "")] {
                    for _ in 0..<3 {
                        monitor += 1
                        let id = try await fixture.job(monitor: monitor, kind: mode, config: #"{"status":"up"}"#, timeout: 1_500)
                        jobs[id] = mode
                    }
                }
                let clock = ContinuousClock.now
                let results = try await fixture.waitForResults(jobs.count, within: .seconds(40))
                print("misbehaving: \(results.count) results after \(ContinuousClock.now - clock)")
                for mode in Set(jobs.values) where results.filter({ jobs[$0.job ?? ""] == mode }).count != 3 { print("missing for \(mode)") }
                // Exactly one result per job.
                #expect(results.count == jobs.count)
                #expect(Set(results.compactMap(\.job)) == Set(jobs.keys))
                #expect(results.allSatisfy { $0.status != .down }, "a broken plugin produced down: \(results.filter { $0.status == .down }.map(\.message))")
                for (mode, fragment) in expectations {
                    let mine = results.filter { jobs[$0.job ?? ""] == mode }
                    #expect(mine.count == 3, "\(mode)")
                    #expect(mine.allSatisfy { $0.status == .unknown }, "\(mode): \(mine.map { "\($0.status) \($0.message)" })")
                    #expect(mine.contains { $0.message.contains(fragment) || $0.details.contains(fragment) },
                            "\(mode): expected \"\(fragment)\" in \(mine.map(\.message))")
                }
                // Duplicate answers are ignored: each check still has its one result.
                #expect(results.filter { jobs[$0.job ?? ""] == "dupid" }.allSatisfy { $0.status == .up })
                #expect(results.filter { jobs[$0.job ?? ""] == "good" }.allSatisfy { $0.status == .up })

                // The crash-looping plugin is marked failed, offers no kinds, and is not restarted in a loop.
                #expect(try await fixture.eventually {
                    let registration = try await fixture.registration(configuration.id)
                    return fixture.plugin("pinguin-check-crashloop", in: registration)?["state"]?.stringValue == "failed"
                })
                let restarts = supervisor.pluginStatus.first { $0.name == "pinguin-check-crashloop" }?.status.restarts ?? 0
                try await Task.sleep(for: .seconds(1))
                #expect(supervisor.pluginStatus.first { $0.name == "pinguin-check-crashloop" }?.status.restarts == restarts)
                #expect(restarts == 5)
                // A check of a failed plugin is answered at once, as unknown.
                let late = try await fixture.job(monitor: 999, kind: "crashloop")
                let after = try await fixture.waitForResults(jobs.count + 1)
                let lateResult = after.first { $0.job == late }
                #expect(lateResult?.status == .unknown)
                #expect(lateResult?.message.contains("has failed") == true)

                // Still serving: the good plugin answers after all this.
                let again = try await fixture.job(monitor: 1000, kind: "good", config: #"{"status":"down"}"#)
                let final = try await fixture.waitForResults(jobs.count + 2)
                #expect(final.first { $0.job == again }?.status == .down)
            }
        }
    }

    @Test("a plugin that ignores SIGTERM is killed on shutdown", .timeLimit(.minutes(3)))
    func ignoresTerm() async throws {
        try await SupervisorFixture.with(modes: ["ignoreterm"]) { fixture in
            let supervisor = fixture.supervisor(fixture.configuration())
            let token = (fixture.pluginFolder as NSString).lastPathComponent.replacingOccurrences(of: "pinguin-plugins-", with: "")
            let started = ContinuousClock.now
            try await fixture.running([supervisor]) {
                _ = try await fixture.job(monitor: 1, kind: "ignoreterm")
                #expect(try await fixture.waitForResults(1).first?.status == .up)
                #expect(try await ChildProcess.run("/usr/bin/pgrep", arguments: ["-f", "ignoreterm \(token)"]).status == 0)
            }
            // stdin closed (ignored), SIGTERM after 1 s (ignored), SIGKILL after 1 s more.
            #expect(try await ChildProcess.run("/usr/bin/pgrep", arguments: ["-f", "ignoreterm \(token)"]).status == 1)
            #expect(ContinuousClock.now - started < .seconds(15))
        }
    }

    @Test("jobs still running at shutdown are handed back, not answered", .timeLimit(.minutes(3)))
    func handsBack() async throws {
        try await SupervisorFixture.with(modes: ["hang"]) { fixture in
            var configuration = fixture.configuration()
            configuration.shutdownGrace = .milliseconds(500)
            let supervisor = fixture.supervisor(configuration)
            var ids: [String] = []
            try await fixture.running([supervisor]) {
                for monitor in 1...3 {
                    ids.append(try await fixture.job(monitor: Int64(monitor), kind: "hang", timeout: 30_000))
                }
                #expect(try await fixture.eventually { supervisor.statistics.received == 3 })
            }
            #expect(try await fixture.results().isEmpty)
            #expect(supervisor.statistics.handedBack == 3)
            let entries = try await fixture.redis.send("XRANGE", fixture.keys.jobs, "-", "+").array ?? []
            let handedBack = entries.compactMap { $0.array?.last?.array }.compactMap { flat -> String? in
                guard let index = flat.firstIndex(where: { $0.string == "job" }) else { return nil }
                return flat[index + 1].string
            }
            #expect(Set(handedBack) == Set(ids))
            let pending = try await fixture.redis.xpending(fixture.keys.jobs, group: fixture.keys.group)
            #expect(pending.count == 0)
        }
    }

    @Test("kind nagios runs Monitoring Plugins programs", .timeLimit(.minutes(3)))
    func nagios() async throws {
        try await SupervisorFixture.with { fixture in
            let folder = fixture.pluginFolder + "/nagios"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let slow = folder + "/check_slow"
            try "#!/bin/sh\nsleep 30\n".write(toFile: slow, atomically: true, encoding: .utf8)
            chmod(slow, 0o755)
            let perf = folder + "/check_perf"
            try "#!/bin/sh\necho \"DISK OK - $1 | '/'=42%;80;90;0;100 'inodes used'=12\"\necho 'long text line'\nexit 0\n"
                .write(toFile: perf, atomically: true, encoding: .utf8)
            chmod(perf, 0o755)
            var configuration = fixture.configuration()
            configuration.nagiosDirectories = [folder, "/usr/lib/nagios/plugins"]
            let supervisor = fixture.supervisor(configuration)
            try await fixture.running([supervisor]) {
                func command(_ argv: [String]) -> String {
                    JSONWriter.string(.object(JSONObject(["command": .array(argv.map { .string($0) })])))
                }
                let warning = try await fixture.job(monitor: 1, kind: "nagios", config: command(["/usr/lib/nagios/plugins/check_dummy", "1", "disk nearly full"]))
                let critical = try await fixture.job(monitor: 2, kind: "nagios", config: command(["/usr/lib/nagios/plugins/check_dummy", "2", "gone"]))
                let outside = try await fixture.job(monitor: 3, kind: "nagios", config: command(["/bin/echo", "hi"]))
                let timeout = try await fixture.job(monitor: 4, kind: "nagios", config: command([slow]), timeout: 500)
                let metrics = try await fixture.job(monitor: 5, kind: "nagios", config: command([perf, "{target}"]), target: "db1")
                let results = try await fixture.waitForResults(5)
                let byJob = Dictionary(uniqueKeysWithValues: results.map { ($0.job ?? "", $0) })
                #expect(byJob[warning]?.status == .degraded)
                #expect(byJob[warning]?.message == "WARNING: disk nearly full")
                #expect(byJob[critical]?.status == .down)
                #expect(byJob[outside]?.status == .unknown)
                #expect(byJob[outside]?.message.contains("not an executable in the allowed folders") == true)
                #expect(byJob[timeout]?.status == .unknown)
                #expect(byJob[timeout]?.message == "plugin timeout: check_slow did not finish within 500 ms")
                #expect(byJob[metrics]?.status == .up)
                #expect(byJob[metrics]?.message == "DISK OK - db1")
                let details = try #require(try JSONParser.parse(byJob[metrics]?.details ?? "").objectValue)
                let metricList = details["metrics"]?.arrayValue?.compactMap(\.objectValue) ?? []
                #expect(metricList.first?["label"]?.stringValue == "/")
                #expect(metricList.first?["uom"]?.stringValue == "%")
                #expect(metricList.first?["warn"]?.stringValue == "80")
                #expect(metricList.last?["label"]?.stringValue == "inodes used")
                #expect(details["long_text"]?.stringValue == "long text line")
            }
        }
    }

    @Test("jobs limited to a location run there, or are answered when no supervisor is there", .timeLimit(.minutes(3)))
    func locations() async throws {
        try await SupervisorFixture.with(modes: ["good"]) { fixture in
            let a = fixture.supervisor(fixture.configuration(location: "a", id: "sv-a"))
            let b = fixture.supervisor(fixture.configuration(location: "b", id: "sv-b"))
            try await fixture.running([a, b]) {
                let registered = try await fixture.eventually {
                    let first = try await fixture.registration("sv-a")
                    let second = try await fixture.registration("sv-b")
                    return first != nil && second != nil
                }
                #expect(registered)
                try await Task.sleep(for: .milliseconds(700))  // both have read each other's heartbeat
                var toB: [String] = []
                for monitor in 1...10 {
                    toB.append(try await fixture.job(monitor: Int64(monitor), kind: "good", locations: ["b"]))
                }
                let nowhere = try await fixture.job(monitor: 50, kind: "good", locations: ["mars"])
                let results = try await fixture.waitForResults(11)
                #expect(results.count == 11)
                for result in results where toB.contains(result.job ?? "") {
                    #expect(result.location == "b")
                    #expect(result.supervisor == "sv-b")
                    #expect(result.status == .up, "\(result.message)")
                }
                let lost = results.first { $0.job == nowhere }
                #expect(lost?.status == .unknown)
                #expect(lost?.message == "no live supervisor in location mars")
            }
        }
    }
}

@Suite("Plugin process hygiene", .enabled(if: TestServices.redisEnabled, Comment(rawValue: TestServices.skipReason)))
struct PluginHygieneTests {
    /// The plugin reports what it was given: the environment, its descriptors, its group, its
    /// directory, SIGPIPE's disposition and its open-files limit.
    @Test("plugins get a clean environment, their own group, no inherited descriptors and their limits", .timeLimit(.minutes(3)))
    func hygiene() async throws {
        try await SupervisorFixture.with(modes: ["hygiene"]) { fixture in
            var configuration = fixture.configuration()
            configuration.pluginLimits.openFiles = 64
            let supervisor = fixture.supervisor(configuration)
            try await fixture.running([supervisor]) {
                _ = try await fixture.job(monitor: 1, kind: "hygiene")
                let result = try #require(try await fixture.waitForResults(1).first)
                let details = try #require(try JSONParser.parse(result.details).objectValue)
                let environment = details["environment"]?.objectValue
                // The shell wrapper adds PWD and the test's own variable, Python LC_CTYPE; nothing of
                // the supervisor's environment leaks.
                let names = Set(environment?.keys ?? []).subtracting(["LC_CTYPE", "PWD", "PINGUIN_TEST_SIGIGN"])
                #expect(names == ["PATH", "LANG", "PINGUIN_PLUGIN", "PINGUIN_PLUGIN_PROTOCOL_VERSIONS"])
                #expect(environment?["PATH"]?.stringValue == "/usr/bin:/bin")
                #expect(environment?["PINGUIN_PLUGIN_PROTOCOL_VERSIONS"]?.stringValue == "1")
                // 0, 1, 2 and the one os.listdir opened to read the folder.
                #expect(details["fds"]?.arrayValue?.compactMap(\.int64Value).prefix(3) == [0, 1, 2])
                #expect((details["fds"]?.arrayValue?.count ?? 0) <= 4)
                #expect(details["pid"]?.int64Value == details["pgid"]?.int64Value)
                #expect(details["cwd"]?.stringValue == "/")
                // None of the standard signals 1-31 ignored at start (the supervisor itself ignores
                // SIGPIPE); glibc's reserved real-time signals are out of anyone's reach.
                let ignored = UInt64(environment?["PINGUIN_TEST_SIGIGN"]?.stringValue ?? "", radix: 16)
                #expect(ignored.map { $0 & 0x7FFF_FFFF } == 0)
                #expect(details["nofile"]?.int64Value == 64)
            }
        }
    }
}

extension PluginHygieneTests {
    @Test("plugins can run as an unprivileged user", .timeLimit(.minutes(3)))
    func unprivilegedUser() async throws {
        try await SupervisorFixture.with(modes: ["hygiene"]) { fixture in
            var configuration = fixture.configuration()
            let nobody = try SpawnedProcess.User(named: "nobody")
            configuration.pluginUser = nobody
            configuration.pool.crashLimit = 1
            // A folder that user can reach whatever the repository's or /tmp's permissions: the
            // wrapper and a copy of the fixture plugin in /var/tmp.
            let folder = "/var/tmp/pinguin-nobody-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            try FileManager.default.copyItem(atPath: SupervisorFixture.misbehaving, toPath: folder + "/misbehaving.py")
            try "#!/bin/sh\nexec /usr/bin/python3 \(folder)/misbehaving.py hygiene\n".write(toFile: folder + "/pinguin-check-hygiene", atomically: true, encoding: .utf8)
            for path in [folder, folder + "/misbehaving.py", folder + "/pinguin-check-hygiene"] { chmod(path, 0o755) }
            configuration.pluginDirectories = [folder]
            let supervisor = fixture.supervisor(configuration)
            try await fixture.running([supervisor]) {
                _ = try await fixture.job(monitor: 1, kind: "hygiene", timeout: 3_000)
                let result = try #require(try await fixture.waitForResults(1).first)
                if getuid() == 0 {
                    let details = try #require(try JSONParser.parse(result.details).objectValue)
                    #expect(result.status == .up, "\(result.message)")
                    #expect(details["uid"]?.int64Value == Int64(nobody.uid))
                    #expect(details["gid"]?.int64Value == Int64(nobody.gid))
                    #expect(details["groups"]?.arrayValue?.isEmpty == true)
                } else {
                    // Without root the switch is refused, and that is said, not hidden.
                    #expect(result.status == .unknown)
                    #expect(result.message.contains("Operation not permitted"), "\(result.message)")
                }
            }
        }
    }
}

@Suite("Supervisor messages")
struct SupervisorMessageTests {
    @Test("a message is one line of at most 1024 bytes, cut between characters")
    func oneLine() {
        #expect(Supervisor.oneLine("fine") == "fine")
        #expect(Supervisor.oneLine("a\r\nb\nc") == "a b c")
        let long = String(repeating: "é", count: 700)  // 1400 bytes
        let cut = Supervisor.oneLine(long)
        #expect(cut.utf8.count == 1024)
        #expect(cut.allSatisfy { $0 == "é" })
    }
}
