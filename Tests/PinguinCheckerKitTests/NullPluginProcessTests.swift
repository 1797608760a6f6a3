import CPinguinShims
import Foundation
import PinguinWire
import Testing

/// The built `pinguin-check-null`, run as a real process and spoken to over pipes: the kit's side
/// of proto-docs/plugin-protocol.md, end to end.
@Suite("pinguin-check-null over pipes", .timeLimit(.minutes(3)))
struct NullPluginProcessTests {
    static func schema(_ name: String) throws -> JSONSchema {
        let path = PluginProcess.repositoryRoot.appendingPathComponent("proto-docs/schemas/plugin/\(name).json").path
        return try JSONSchema(JSONParser.parse(Array(FileManager.default.contents(atPath: path) ?? Data())))
    }

    @Test("initialize: version 1, the null kind with its schemas, valid against initialize-result.json")
    func handshake() async throws {
        let plugin = try PluginProcess()
        let answer = try await plugin.handshake()
        #expect(answer["id"] == .int(1))
        let result = try #require(answer["result"])
        #expect(try Self.schema("initialize-result").validate(result).isEmpty)
        let object = try #require(result.objectValue)
        #expect(object["protocol_version"] == .int(1))
        #expect(object["plugin"]?.objectValue?["name"] == .string("pinguin-check-null"))
        #expect((object["max_concurrency"]?.int64Value ?? 0) >= 200)
        #expect(object["capabilities"]?.objectValue?["cancel"] == .bool(true))
        let kind = try #require(object["kinds"]?.arrayValue?.first?.objectValue)
        #expect(kind["kind"] == .string("null"))
        let config = try #require(kind["config_schema"])
        #expect(config.objectValue?["additionalProperties"] == .bool(false))
        let properties = try #require(config.objectValue?["properties"]?.objectValue)
        #expect(properties.keys == ["status", "message", "delay_ms", "fail"])
        #expect(properties["fail"]?.objectValue?["enum"] == .array(["", "error", "crash", "hang"].map { .string($0) }))
        // The schemas compile, and reject what they should.
        let compiled = try JSONSchema(config)
        #expect(compiled.isValid(try JSONParser.parse(#"{"status":"down","delay_ms":5}"#)))
        #expect(!compiled.isValid(try JSONParser.parse(#"{"status":"sideways"}"#)))
        #expect(!compiled.isValid(try JSONParser.parse(#"{"delay_ms":-1}"#)))
        #expect(!compiled.isValid(try JSONParser.parse(#"{"other":1}"#)))
        let target = try JSONSchema(try #require(kind["target_schema"]))
        #expect(target.isValid(.string("anything")))
        #expect(!target.isValid(.string(String(repeating: "x", count: 1025))))
    }

    @Test("200 checks at once: each answered exactly once, under its own id, valid against check-run-result.json")
    func concurrentChecks() async throws {
        let plugin = try PluginProcess()
        try await plugin.handshake()
        let statuses = ["up", "down", "degraded", "unknown"]
        try await plugin.send(lines: (100..<300).map { id in
            PluginProcess.checkRun(id: id, target: "t\(id)", config: #"{"status":"\#(statuses[id % 4])","delay_ms":\#(id % 7)}"#)
        })
        let answers = try await plugin.readMessages(200)
        let resultSchema = try Self.schema("check-run-result")
        var seen: Set<Int64> = []
        for answer in answers {
            let id = try #require(answer["id"]?.int64Value)
            #expect(seen.insert(id).inserted, "id \(id) answered twice")
            let result = try #require(answer["result"], "\(answer)")
            #expect(resultSchema.validate(result).isEmpty, "\(result)")
            #expect(result.objectValue?["status"] == .string(statuses[Int(id) % 4]))
            #expect(result.objectValue?["details"]?.objectValue?["target"] == .string("t\(id)"))
        }
        #expect(seen == Set(100..<300))
    }

    @Test("answers come in any order: a slow check is answered after a fast one sent later")
    func delayOrdering() async throws {
        let plugin = try PluginProcess()
        try await plugin.handshake()
        try await plugin.send(PluginProcess.checkRun(id: 10, config: #"{"delay_ms":400}"#), PluginProcess.checkRun(id: 11))
        let answers = try await plugin.readMessages(2)
        #expect(answers.map { $0["id"] } == [.int(11), .int(10)])
        let latency = try #require(answers[1]["result"]?.objectValue?["latency_ms"]?.doubleValue)
        #expect(latency >= 400)
    }

    @Test("check.cancel stops a hanging check, answered -32800; the plugin keeps working")
    func cancel() async throws {
        let plugin = try PluginProcess()
        try await plugin.handshake()
        try await plugin.send(PluginProcess.checkRun(id: 20, config: #"{"fail":"hang"}"#), PluginProcess.checkRun(id: 21, config: #"{"delay_ms":30000}"#))
        try await plugin.send(#"{"jsonrpc":"2.0","method":"check.cancel","params":{"id":20,"reason":"user"}}"#)
        let cancelled = try await plugin.readMessage(timeout: 5)
        #expect(cancelled["id"] == .int(20))
        #expect(cancelled["error"]?.objectValue?["code"] == .int(-32800))
        try await plugin.send(#"{"jsonrpc":"2.0","method":"check.cancel","params":{"id":21,"reason":"shutdown"}}"#, #"{"jsonrpc":"2.0","id":22,"method":"ping"}"#)
        let answers = try await plugin.readMessages(2, timeout: 5)
        #expect(Set(answers.compactMap { $0["id"]?.int64Value }) == [21, 22])
    }

    @Test("deadlines: one already past is refused at once, one that passes stops the check; both errors of kind deadline")
    func deadlines() async throws {
        let plugin = try PluginProcess()
        try await plugin.handshake()
        try await plugin.send(PluginProcess.checkRun(id: 30, deadlineIn: -5))
        let past = try await plugin.readMessage()
        #expect(past["id"] == .int(30))
        #expect(past["error"]?.objectValue?["code"] == .int(-32603))
        #expect(past["error"]?.objectValue?["data"]?.objectValue?["kind"] == .string("deadline"))
        let started = ContinuousClock.now
        try await plugin.send(PluginProcess.checkRun(id: 31, config: #"{"fail":"hang"}"#, deadlineIn: 0.3))
        let passed = try await plugin.readMessage(timeout: 15)
        let waited = started.duration(to: .now)
        #expect(passed["id"] == .int(31))
        #expect(passed["error"]?.objectValue?["data"]?.objectValue?["kind"] == .string("deadline"))
        // Not before the deadline; the upper bound only tells "answered at the deadline" from
        // "never" (the test process's task pool can be busy for seconds while the suite runs).
        #expect(waited >= .milliseconds(250) && waited < .seconds(10), "\(waited)")
    }

    @Test("a checker that throws is a JSON-RPC error (unknown), never a down result")
    func thrownError() async throws {
        let plugin = try PluginProcess()
        try await plugin.handshake()
        try await plugin.send(PluginProcess.checkRun(id: 40, config: #"{"fail":"error"}"#), PluginProcess.checkRun(id: 41, config: #"{"status":"sideways"}"#))
        let answers = try await plugin.readMessages(2)
        let byID = Dictionary(uniqueKeysWithValues: answers.map { ($0["id"]?.int64Value ?? 0, $0) })
        #expect(byID[40]?["result"] == nil)
        #expect(byID[40]?["error"]?.objectValue?["code"] == .int(-32603))
        #expect(byID[40]?["error"]?.objectValue?["data"]?.objectValue?["kind"] == .string("null_error"))
        #expect(byID[41]?["error"]?.objectValue?["code"] == .int(-32602))
    }

    @Test("unknown method -32601; an unknown kind -32602; ping answers {}")
    func methods() async throws {
        let plugin = try PluginProcess()
        try await plugin.handshake()
        try await plugin.send(#"{"jsonrpc":"2.0","id":50,"method":"no.such.method"}"#)
        #expect(try await plugin.readMessage()["error"]?.objectValue?["code"] == .int(-32601))
        try await plugin.send(PluginProcess.checkRun(id: 51).replacingOccurrences(of: #""kind":"null""#, with: #""kind":"http""#))
        let kind = try await plugin.readMessage()
        #expect(kind["error"]?.objectValue?["data"]?.objectValue?["kind"] == .string("unsupported_kind"))
        try await plugin.send(#"{"jsonrpc":"2.0","id":52,"method":"ping"}"#)
        let pong = try await plugin.readMessage()
        #expect(pong["id"] == .int(52))
        #expect(pong["result"] == .object(JSONObject()))
    }

    @Test("malformed lines are answered with id null and the plugin keeps working; \\r\\n is accepted")
    func malformedLines() async throws {
        let plugin = try PluginProcess()
        try await plugin.handshake()
        try await plugin.send("this is not JSON", #"{"jsonrpc":"2.0","id":60}"#, "[1,2]", #"{"jsonrpc":"2.0","id":61,"method":"ping"}"# + "\r")
        let answers = try await plugin.readMessages(4)
        #expect(answers[0]["id"] == .null)
        #expect(answers[0]["error"]?.objectValue?["code"] == .int(-32700))
        #expect(answers[1]["id"] == .int(60))
        #expect(answers[1]["error"]?.objectValue?["code"] == .int(-32600))
        #expect(answers[2]["id"] == .null)
        #expect(answers[2]["error"]?.objectValue?["code"] == .int(-32600))
        #expect(answers[3]["id"] == .int(61))
        #expect(answers[3]["result"] == .object(JSONObject()))
        // An oversized line is skipped and answered; the next line still works.
        try await plugin.send(String(repeating: "x", count: (1 << 20) + 10), #"{"jsonrpc":"2.0","id":62,"method":"ping"}"#)
        let after = try await plugin.readMessages(2)
        #expect(after[0]["id"] == .null && after[0]["error"]?.objectValue?["code"] == .int(-32600))
        #expect(after[1]["id"] == .int(62))
    }

    @Test("requests before initialize are refused; a second initialize too")
    func beforeInitialize() async throws {
        let plugin = try PluginProcess()
        try await plugin.send(#"{"jsonrpc":"2.0","id":70,"method":"ping"}"#, PluginProcess.checkRun(id: 71))
        let refused = try await plugin.readMessages(2)
        #expect(refused.map { $0["id"] } == [.int(70), .int(71)])
        #expect(refused.allSatisfy { $0["error"]?.objectValue?["data"]?.objectValue?["kind"] == .string("not_initialized") })
        let hello = try await plugin.handshake()
        #expect(hello["result"] != nil)
        try await plugin.send(PluginProcess.initialize(id: 72))
        #expect(try await plugin.readMessage()["error"]?.objectValue?["data"]?.objectValue?["kind"] == .string("already_initialized"))
    }

    @Test("an offer without version 1 is refused with -32602 unsupported_version")
    func unsupportedVersion() async throws {
        let plugin = try PluginProcess()
        try await plugin.send(PluginProcess.initialize(id: 1, versions: "[2,3]"))
        let answer = try await plugin.readMessage()
        let error = try #require(answer["error"]?.objectValue)
        #expect(error["code"] == .int(-32602))
        #expect(error["data"]?.objectValue?["kind"] == .string("unsupported_version"))
        #expect(error["data"]?.objectValue?["supported"] == .array([.int(1)]))
    }

    @Test("shutdown waits for the checks in flight and answers null; EOF then exits 0")
    func shutdown() async throws {
        let plugin = try PluginProcess()
        try await plugin.handshake()
        try await plugin.send(PluginProcess.checkRun(id: 80, config: #"{"delay_ms":200}"#), #"{"jsonrpc":"2.0","id":81,"method":"shutdown"}"#)
        let answers = try await plugin.readMessages(2)
        #expect(answers.map { $0["id"] } == [.int(80), .int(81)])
        #expect(answers[1]["result"] == .null)
        try await plugin.send(PluginProcess.checkRun(id: 82))
        #expect(try await plugin.readMessage()["error"]?.objectValue?["data"]?.objectValue?["kind"] == .string("shutting_down"))
        plugin.closeInput()
        #expect(await plugin.waitForExit() == 0)
        #expect(await plugin.readLine(timeout: 1) == nil)
    }

    @Test("EOF with a check in flight: its answer is written, then exit 0")
    func endOfInput() async throws {
        let plugin = try PluginProcess()
        try await plugin.handshake()
        try await plugin.send(PluginProcess.checkRun(id: 85, config: #"{"delay_ms":200}"#))
        plugin.closeInput()
        #expect(try await plugin.readMessage()["id"] == .int(85))
        #expect(await plugin.waitForExit() == 0)
    }

    @Test("fail crash: exit status 3, with a line on stderr")
    func crash() async throws {
        let plugin = try PluginProcess()
        try await plugin.handshake()
        try await plugin.send(PluginProcess.checkRun(id: 90, config: #"{"delay_ms":30000}"#), PluginProcess.checkRun(id: 91, config: #"{"fail":"crash"}"#))
        #expect(await plugin.waitForExit() == 3)
        #expect(plugin.stderr.hasPrefix("E! "), "\(plugin.stderr)")
        #expect(plugin.stderr.contains("crash"))
    }

    @Test("proto-docs/examples/conformance.py passes it")
    func conformance() async throws {
        let script = PluginProcess.repositoryRoot.appendingPathComponent("proto-docs/examples/conformance.py").path
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("pinguin-conformance-\(UUID().uuidString)").path
        defer { unlink(outputPath) }
        let command = ["/usr/bin/env", "python3", script, PluginProcess.nullPlugin,
                       "--case", "x", "{}", "up", "--case", "x", #"{"status":"down"}"#, "down",
                       "--case", "y", #"{"status":"degraded","delay_ms":20}"#, "degraded"]
        let status: Int32 = await onThread {
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
            pinguin_spawn_file_actions_addclosefrom(&actions, 3)  // inherit nothing else (see PluginProcess)
            let argv = command.map { strdup($0) } + [nil]
            defer { argv.forEach { free($0) } }
            var pid: pid_t = 0
            PluginProcess.spawnLock.lock()
            let spawned = posix_spawn(&pid, command[0], &actions, nil, argv, environ)
            PluginProcess.spawnLock.unlock()
            guard spawned == 0 else { return -1 }
            var raw: Int32 = 0
            while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
            return (raw & 0x7F) == 0 ? (raw >> 8) & 0xFF : 128 + (raw & 0x7F)
        }
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        #expect(status == 0, "\(output)")
        #expect(output.contains("PASS"), "\(output)")
    }
}

@Suite("The Swift kit in plugin-protocol.md")
struct KitDocumentTests {
    @Test("the example in \"The Swift kit\" is the null plugin's main.swift, line for line (elisions aside)")
    func example() throws {
        let root = PluginProcess.repositoryRoot
        let document = try String(contentsOf: root.appendingPathComponent("proto-docs/plugin-protocol.md"), encoding: .utf8)
        let source = try String(contentsOf: root.appendingPathComponent("Plugins/pinguin-check-null/main.swift"), encoding: .utf8)
        let section = try #require(document.components(separatedBy: "## The Swift kit").last)
        let blocks = section.components(separatedBy: "```swift\n").dropFirst().map { $0.components(separatedBy: "\n```")[0] }
        let example = try #require(blocks.first { $0.contains("CheckerPlugin.run(") })
        let sourceLines = Set(source.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
        for line in example.split(separator: "\n") where !line.contains("…") {
            #expect(sourceLines.contains(line.trimmingCharacters(in: .whitespaces)), "not in main.swift: \(line)")
        }
    }
}
