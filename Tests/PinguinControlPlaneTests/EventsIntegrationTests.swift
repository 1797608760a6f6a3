import Foundation
import PinguinControlPlane
import PinguinIngester
import PinguinModel
import PinguinPostgres
import PinguinRedis
import PinguinStore
import PinguinTestSupport
import PinguinWire
import Testing

/// A control plane (real server, real event hub) with a real ingester, against real PostgreSQL
/// and Redis. Holds the Redis gate exclusively: the events channel and the jobs stream are shared
/// by every process on the server, so no other test may publish meanwhile.
private struct System {
    let socket: RawSocketClient.Target
    let redis: RedisClient
    let client: PostgresClient
    let hub: EventHub
    let resultsStream: String
    let catalogueKey: String

    static func with<T: Sendable>(
        buffer: Int = 1_000, _ adjust: @escaping @Sendable (inout ControlPlaneServer.Configuration) -> Void = { _ in },
        _ body: @escaping @Sendable (System) async throws -> T
    ) async throws -> T {
        try await ServiceGate.redis.exclusive {
            try await TemporaryDatabase.with { configuration in
                let logger = TestServices.logger()
                let client = PostgresClient(configuration, logger: logger)
                let redisConfiguration = try RedisConfiguration(url: TestServices.requireRedisURL())
                let redis = RedisClient(redisConfiguration, logger: logger)
                let tag = UUID().uuidString.prefix(8)
                let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pinguin-events-\(tag)").path
                defer { try? FileManager.default.removeItem(atPath: folder) }
                do {
                    try await MigrationRunner(client: client, logger: logger).up()
                    var hubConfiguration = EventHub.Configuration()
                    hubConfiguration.subscriptionBuffer = buffer
                    let hub = EventHub(redis: redisConfiguration, configuration: hubConfiguration, logger: logger)
                    let catalogueKey = "{pinguin}:supervisors-test-\(tag)"
                    let catalogue = PluginCatalogue(redis: redis, key: catalogueKey, cacheFor: .zero)
                    var router = JSONRPCRouter()
                    let store = MonitorStore(client: client)
                    MonitorMethods.register(into: &router, store: store, catalogue: catalogue, actor: { RequestContext.current.actor })
                    MonitorRunMethod.register(into: &router, store: store, redis: redis, hub: hub, actor: { RequestContext.current.actor })
                    EventMethods.register(into: &router, hub: hub)
                    PluginMethods.register(into: &router, catalogue: catalogue)
                    let storage = PartitionedResultStorage(client: client, logger: logger)
                    ResultMethods.register(into: &router, storage: storage, incidents: IncidentStore(client: client))
                    var serverConfiguration = ControlPlaneServer.Configuration()
                    serverConfiguration.unixSocketPath = folder + "/p.sock"
                    serverConfiguration.tcpHost = nil
                    adjust(&serverConfiguration)
                    let server = try ControlPlaneServer(configuration: serverConfiguration, router: router, logger: logger)
                    var ingesterConfiguration = Ingester.Configuration()
                    ingesterConfiguration.stream = "{pinguin}:results-test-\(tag)"
                    ingesterConfiguration.flushInterval = .milliseconds(50)
                    // One worker, so a monitor's results are judged in slot order (two workers can
                    // commit its batches the other way round; proto-docs/status.md).
                    ingesterConfiguration.workers = 1
                    let ingester = Ingester(configuration: ingesterConfiguration, redis: redis, storage: storage,
                                            rejects: RejectedResultStore(client: client), logger: logger)
                    let result = try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask { try await hub.run() }
                        group.addTask { try await server.run() }
                        group.addTask { try await ingester.run() }
                        await server.waitUntilListening()
                        #expect(await hub.waitUntilSubscribed(timeout: .seconds(10)))
                        let system = System(socket: .unix(serverConfiguration.unixSocketPath!), redis: redis, client: client, hub: hub,
                                            resultsStream: ingesterConfiguration.stream, catalogueKey: catalogueKey)
                        defer { group.cancelAll() }
                        return try await body(system)
                    }
                    _ = try? await redis.send("DEL", ingesterConfiguration.stream, catalogueKey)
                    await redis.close()
                    await client.close()
                    return result
                } catch {
                    await redis.close()
                    await client.close()
                    throw error
                }
            }
        }
    }

    func createMonitor(_ name: String, kind: String = "http") async throws -> Int64 {
        try await MonitorStore(client: client).create(MonitorDraft(name: name, kind: kind, target: "http://127.0.0.1:1/"))
    }

    func result(_ monitor: Int64, at micros: Int64, message: String = "ok") -> CheckResult {
        CheckResult(monitorID: monitor, scheduledAt: Date(unixMicroseconds: micros), status: .up, slotMilliseconds: 60_000,
                    latencyMilliseconds: 1.5, message: message)
    }

    /// Registers a live supervisor offering `kinds` (name → config schema) in this test's catalogue.
    func register(supervisor: String, kinds: [String: String], heartbeat: Date = Date()) async throws {
        let entries = kinds.map { #"{"kind":"\#($0.key)","config_schema":\#($0.value)}"# }.joined(separator: ",")
        let registration = #"{"id":"\#(supervisor)","host":"test","location":"default","heartbeat_at":"\#(RFC3339.string(heartbeat))","plugins":[{"name":"pinguin-check-test","version":"1.0","protocol":"1","state":"running","max_concurrency":8,"kinds":[\#(entries)]}]}"#
        _ = try await redis.send("HSET", catalogueKey, supervisor, registration)
    }
}

private func object(_ line: String?) throws -> JSONObject {
    guard let line else { throw RawSocketClient.Failure(description: "no line arrived") }
    guard let object = try JSONParser.parse(line).objectValue else { throw RawSocketClient.Failure(description: "not an object: \(line)") }
    return object
}

@Suite("events, monitor.run and the plugin catalogue", .serialized,
       .enabled(if: TestServices.postgresEnabled && TestServices.redisEnabled, Comment(rawValue: TestServices.skipReason)),
       .timeLimit(.minutes(3)))
struct EventsIntegrationTests {
    @Test("a subscription's answer comes first; then only matching events, numbered from 1")
    func subscribeAndFilter() async throws {
        try await System.with { system in
            let watched = try await system.createMonitor("watched")
            let other = try await system.createMonitor("other")
            let session = try LineSession(system.socket)
            try session.send(#"{"jsonrpc":"2.0","id":1,"method":"events.subscribe","params":{"types":["result"],"monitor_ids":[\#(watched)]}}"#)
            let answer = try object(await session.readLine())
            #expect(answer["id"] == .number("1"))
            let subscription = try #require(answer["result"]?.objectValue?["subscription"]?.stringValue)
            let base: Int64 = 1_795_000_000_000_000
            let results = (0..<3).map { system.result(watched, at: base + Int64($0) * 60_000_000, message: "w\($0)") }
                + (0..<2).map { system.result(other, at: base + Int64($0) * 60_000_000) }
            #expect(try await EventPublisher(redis: system.redis).publish(results: results) >= 1)
            var events: [JSONObject] = []
            for _ in 0..<3 { events.append(try object(await session.readLine())) }
            #expect(events.map { $0["method"]?.stringValue } == ["events.event", "events.event", "events.event"])
            let params = events.compactMap { $0["params"]?.objectValue }
            #expect(params.map { $0["seq"] } == [.number("1"), .number("2"), .number("3")])
            #expect(params.allSatisfy { $0["subscription"]?.stringValue == subscription && $0["monitor_id"]?.int64Value == watched })
            #expect(params.map { $0["data"]?.objectValue?["message"]?.stringValue } == ["w0", "w1", "w2"])
            #expect(await session.readLine(timeout: 0.5) == nil, "the other monitor's events are filtered out")
            // Unsubscribed: nothing more arrives; a second unsubscribe names the subscription.
            try session.send(#"{"jsonrpc":"2.0","id":2,"method":"events.unsubscribe","params":{"subscription":"\#(subscription)"}}"#)
            #expect(try object(await session.readLine())["result"]?.objectValue?["unsubscribed"] == .bool(true))
            try await EventPublisher(redis: system.redis).publish(results: [system.result(watched, at: base + 600_000_000)])
            #expect(await session.readLine(timeout: 0.5) == nil)
            try session.send(#"{"jsonrpc":"2.0","id":3,"method":"events.unsubscribe","params":{"subscription":"\#(subscription)"}}"#)
            let missing = try object(await session.readLine())
            #expect(missing["error"]?.objectValue?["data"]?.objectValue?["kind"] == .string("not_found"))
        }
    }

    @Test("status events: results through the ingester change the monitor's status, announced with what the engine decided")
    func statusEvents() async throws {
        try await System.with { system in
            let watched = try await system.createMonitor("status-watched")
            let session = try LineSession(system.socket)
            try session.send(#"{"jsonrpc":"2.0","id":1,"method":"events.subscribe","params":{"types":["status","incident"],"monitor_ids":[\#(watched)]}}"#)
            #expect(try object(await session.readLine())["result"] != nil)
            let base: Int64 = 1_795_000_000_000_000
            var results = [system.result(watched, at: base, message: "fine")]
            for minute in 1...3 {
                var failure = system.result(watched, at: base + Int64(minute) * 60_000_000, message: "refused \(minute)")
                failure.status = .down
                results.append(failure)
            }
            // One entry at a time, as supervisors write them; the ingester may batch them as it likes.
            for result in results {
                _ = try await system.redis.send(RedisClient.xaddCommand(system.resultsStream, fields: result.streamFields.map { ($0.0, $0.1 as any RedisArgument) }))
            }
            var changes: [JSONObject] = []
            for _ in 0..<3 {
                guard let line = await session.readLine(timeout: 15) else { break }
                changes.append(try #require(try object(line)["params"]?.objectValue))
            }
            // pending → up (first result), up → pending (first failure), pending → down (third).
            let data = changes.compactMap { $0["data"]?.objectValue }
            #expect(data.map { [$0["previous_status"]?.stringValue ?? "?", $0["status"]?.stringValue ?? "?"] } == [["pending", "up"], ["up", "pending"], ["pending", "down"]])
            #expect(changes.last?["at"]?.stringValue == RFC3339.string(Date(unixMicroseconds: base + 180_000_000)))
            let notice = data.last?["notices"]?.arrayValue?.first?.objectValue
            #expect(notice?["event"] == .string("down"))
            #expect(notice?["message"] == .string("refused 1"))
            #expect(notice?["since"] == .string(RFC3339.string(Date(unixMicroseconds: base + 60_000_000))))
            #expect(data.dropLast().allSatisfy { $0["notices"]?.arrayValue == [] }, "a new monitor's first up is no news")
            // The incident, opened after the status change that made it, from the first failure.
            let opened = try #require(try object(await session.readLine(timeout: 15))["params"]?.objectValue)
            #expect(opened["type"] == .string("incident"))
            let incident = try #require(opened["data"]?.objectValue)
            #expect(incident["action"] == .string("opened"))
            #expect(incident["started_at"] == .string(RFC3339.string(Date(unixMicroseconds: base + 60_000_000))))
            #expect(incident["first_message"] == .string("refused 1") && incident["failed_checks"] == .number("3"))
            // Back up: the status changes, the incident closes at that result.
            let recovered = system.result(watched, at: base + 240_000_000, message: "fine again")
            _ = try await system.redis.send(RedisClient.xaddCommand(system.resultsStream, fields: recovered.streamFields.map { ($0.0, $0.1 as any RedisArgument) }))
            let up = try #require(try object(await session.readLine(timeout: 15))["params"]?.objectValue)
            #expect(up["data"]?.objectValue?["status"] == .string("up"))
            #expect(up["data"]?.objectValue?["notices"]?.arrayValue?.first?.objectValue?["event"] == .string("up"))
            let closed = try #require(try object(await session.readLine(timeout: 15))["params"]?.objectValue)
            #expect(closed["data"]?.objectValue?["action"] == .string("closed"))
            #expect(closed["data"]?.objectValue?["incident_id"] == incident["incident_id"])
            #expect(closed["data"]?.objectValue?["ended_at"] == .string(RFC3339.string(Date(unixMicroseconds: base + 240_000_000))))
        }
    }

    @Test("events reach every control plane: a second hub, as in another process, sees the same result")
    func everyHub() async throws {
        try await System.with { system in
            let second = EventHub(redis: try RedisConfiguration(url: TestServices.requireRedisURL()), logger: TestServices.logger())
            let running = Task { try await second.run() }
            defer { running.cancel() }
            #expect(await second.waitUntilSubscribed(timeout: .seconds(10)))
            let job = "run:\(UUID().uuidString)"
            second.expectJob(job)
            system.hub.expectJob(job)
            var result = system.result(try await system.createMonitor("shared"), at: 1_795_000_000_000_000)
            result.job = job
            #expect(try await EventPublisher(redis: system.redis).publish(results: [result]) == 2, "two hubs listen")
            let seenBySecond = await second.waitForJob(job, timeout: .seconds(5))
            let seenByFirst = await system.hub.waitForJob(job, timeout: .seconds(5))
            #expect(seenBySecond?["data"]?.objectValue?["job"] == .string(job))
            #expect(seenByFirst?["data"]?.objectValue?["job"] == .string(job))
        }
    }

    @Test("bad filters are refused by name")
    func badFilters() async throws {
        try await System.with { system in
            let session = try LineSession(system.socket)
            try session.send(#"{"jsonrpc":"2.0","id":1,"method":"events.subscribe","params":{"types":["results"]}}"#)
            let error = try #require(try object(await session.readLine())["error"]?.objectValue)
            #expect(error["data"]?.objectValue?["field"] == .string("types"))
            try session.send(#"{"jsonrpc":"2.0","id":2,"method":"events.subscribe","params":{"monitor_ids":"7"}}"#)
            #expect(try object(await session.readLine())["error"]?.objectValue?["data"]?.objectValue?["field"] == .string("monitor_ids"))
        }
    }

    @Test("a subscriber that does not read loses the oldest events, is told exactly how many, and seq accounts for every one")
    func slowSubscriber() async throws {
        try await System.with(buffer: 20) { system in
            let monitor = try await system.createMonitor("busy")
            let session = try LineSession(system.socket)
            try session.send(#"{"jsonrpc":"2.0","id":1,"method":"events.subscribe","params":{}}"#)
            #expect(try object(await session.readLine())["result"] != nil)
            // Large messages fill the socket's buffers quickly; the client reads nothing meanwhile.
            let filler = String(repeating: "x", count: 900)
            let total = 3_000
            let results = (0..<total).map { system.result(monitor, at: 1_795_000_000_000_000 + Int64($0) * 1_000_000, message: "\($0) \(filler)") }
            let before = system.hub.receivedMessages
            try await EventPublisher(redis: system.redis).publish(results: results)
            let messages = (total + EventPublisher.maximumPerMessage - 1) / EventPublisher.maximumPerMessage
            for _ in 0..<200 where system.hub.receivedMessages < before + messages { try await Task.sleep(for: .milliseconds(20)) }
            try await Task.sleep(for: .milliseconds(300))
            let lines = await session.drain(quiet: 1.0)
            var delivered: [Int64] = []
            var dropped = 0
            for line in lines {
                let message = try object(line)
                let params = try #require(message["params"]?.objectValue)
                if message["method"]?.stringValue == EventHub.overflowMethod {
                    #expect(params["reason"] == .string("slow_subscriber"))
                    dropped += Int(try #require(params["dropped"]?.int64Value))
                } else {
                    delivered.append(try #require(params["seq"]?.int64Value))
                }
            }
            #expect(dropped > 0, "the subscriber should have overflowed")
            #expect(delivered.count + dropped == total, "delivered \(delivered.count) + dropped \(dropped)")
            #expect(delivered == delivered.sorted() && delivered.last == Int64(total))
            // Every jump in seq is exactly an announced drop.
            let jumps = zip(delivered, delivered.dropFirst()).map { Int($1 - $0 - 1) }.reduce(0, +) + Int(delivered.first! - 1)
            #expect(jumps == dropped)
        }
    }

    @Test("monitor.run queues a manual job and returns its result, which is published but not stored")
    func runAndWait() async throws {
        try await System.with { system in
            let monitor = try await system.createMonitor("run-me")
            let group = "test-supervisor-\(UUID().uuidString.prefix(8))"
            try await system.redis.xgroupCreate(CheckJob.stream, group: group, startID: "$")
            defer { Task { [redis = system.redis] in _ = try? await redis.send("XGROUP", "DESTROY", CheckJob.stream, group) } }
            // This test plays the supervisor: take the job, answer on the results stream.
            let supervisor = Task { () -> [String: String] in
                while true {
                    let entries = try await system.redis.xreadgroup(CheckJob.stream, group: group, consumer: "t", count: 10, block: .seconds(1))
                    for entry in entries {
                        let fields = entry.fields.mapValues { String(decoding: $0, as: UTF8.self) }
                        guard fields["monitor"] == String(monitor) else { continue }
                        var result = system.result(monitor, at: Int64(fields["scheduled"]!)!, message: "checked by the test")
                        result.job = fields["job"]
                        result.manual = fields["manual"] == "1"
                        _ = try await system.redis.xadd(system.resultsStream, fields: result.streamFields.map { ($0.0, $0.1 as any RedisArgument) })
                        return fields
                    }
                }
            }
            let session = try LineSession(system.socket)
            try session.send(#"{"jsonrpc":"2.0","id":1,"method":"monitor.run","params":{"id":\#(monitor),"wait":true,"timeout_ms":10000}}"#)
            let answer = try object(await session.readLine(timeout: 15))
            let run = try #require(answer["result"]?.objectValue, "\(answer)")
            let job = try await supervisor.value
            #expect(job["kind"] == "http" && job["target"] == "http://127.0.0.1:1/" && job["manual"] == "1" && job["config"] == "{}")
            #expect(run["job_id"]?.stringValue == job["job"])
            let result = try #require(run["result"]?.objectValue)
            #expect(result["message"] == .string("checked by the test") && result["manual"] == .bool(true) && result["status"] == .string("up"))
            let stored = try await system.client.query("SELECT count(*)::int8 FROM results WHERE monitor_id = $1", [monitor])
            #expect(try stored[0].decode(Int64.self, column: 0) == 0, "a manual run stands for no slot")
            let audited = try await system.client.query("SELECT count(*)::int8 FROM audit_log WHERE action = 'monitor.run' AND subject_id = $1", [String(monitor)])
            #expect(try audited[0].decode(Int64.self, column: 0) == 1)
        }
    }

    @Test("monitor.run with nobody to run it times out with a clear error; an unknown monitor is not_found")
    func runTimesOut() async throws {
        try await System.with { system in
            let monitor = try await system.createMonitor("nobody-runs-me", kind: "nosuchkind")
            let session = try LineSession(system.socket)
            try session.send(#"{"jsonrpc":"2.0","id":1,"method":"monitor.run","params":{"id":\#(monitor),"wait":true,"timeout_ms":300}}"#)
            let error = try #require(try object(await session.readLine())["error"]?.objectValue)
            #expect(error["code"] == .number("1008"))
            #expect(error["data"]?.objectValue?["kind"] == .string("timeout"))
            #expect(error["message"]?.stringValue?.contains("nosuchkind") == true)
            try session.send(#"{"jsonrpc":"2.0","id":2,"method":"monitor.run","params":{"id":999999}}"#)
            #expect(try object(await session.readLine())["error"]?.objectValue?["code"] == .number("1004"))
        }
    }

    @Test("configs are checked against the catalogue of live supervisors, with errors naming the field")
    func configValidation() async throws {
        try await System.with { system in
            let session = try LineSession(system.socket)
            func call(_ id: Int, _ method: String, _ params: String) async throws -> JSONObject {
                try session.send(#"{"jsonrpc":"2.0","id":\#(id),"method":"\#(method)","params":\#(params)}"#)
                return try object(await session.readLine())
            }
            // No supervisor: accepted, with a warning.
            let unchecked = try await call(1, "monitor.create", #"{"name":"a","kind":"probe","target":"x","config":{"anything":1}}"#)
            #expect(unchecked["result"]?.objectValue?["warnings"]?.arrayValue?.count == 1, "\(unchecked)")

            let schema = #"{"type":"object","additionalProperties":false,"properties":{"method":{"enum":["GET","HEAD"],"default":"GET"},"timeout":{"type":"integer","maximum":60}}}"#
            try await system.register(supervisor: "sv-live", kinds: ["probe": schema])
            let good = try await call(2, "monitor.create", #"{"name":"b","kind":"probe","target":"x","config":{"timeout":5}}"#)
            let created = try #require(good["result"]?.objectValue, "\(good)")
            #expect(created["config"]?.objectValue?["method"] == .string("GET"), "the schema's default is filled in")
            #expect(created["warnings"] == nil)

            let bad = try await call(3, "monitor.create", #"{"name":"c","kind":"probe","target":"x","config":{"timeout":120,"metod":"GET"}}"#)
            let error = try #require(bad["error"]?.objectValue)
            #expect(error["code"] == .number("-32602"))
            let data = try #require(error["data"]?.objectValue)
            #expect(data["violations"]?.arrayValue?.count == 2)
            let fields = Set((data["violations"]?.arrayValue ?? []).compactMap { $0.objectValue?["field"]?.stringValue })
            #expect(fields.contains("config.timeout"), "\(fields)")

            let unknown = try await call(4, "monitor.create", #"{"name":"d","kind":"nope","target":"x"}"#)
            #expect(unknown["error"]?.objectValue?["data"]?.objectValue?["kind"] == .string("unknown_kind"))
            #expect(unknown["error"]?.objectValue?["message"]?.stringValue?.contains("probe") == true, "the message lists what is offered")

            // Updates are checked too, against the monitor's kind.
            let id = try #require(created["id"]?.int64Value)
            let update = try await call(5, "monitor.update", #"{"id":\#(id),"config":{"method":"POST"}}"#)
            #expect(update["error"]?.objectValue?["data"]?.objectValue?["field"] == .string("config.method"), "\(update)")

            // plugin.list shows the kind with its schema, and push, which needs no plugin.
            let plugins = try await call(6, "plugin.list", "{}")
            let kinds = (plugins["result"]?.objectValue?["plugins"]?.arrayValue ?? []).compactMap(\.objectValue)
            #expect(Set(kinds.compactMap { $0["kind"]?.stringValue }) == ["probe", "push"])
            let probe = try #require(kinds.first { $0["kind"]?.stringValue == "probe" })
            #expect(probe["supervisors"] == .array([.string("sv-live")]) && probe["config_schema"]?.objectValue?["type"] == .string("object"))

            // A registration whose heartbeat is old is ignored: back to unchecked.
            _ = try await system.redis.send("DEL", system.catalogueKey)
            try await system.register(supervisor: "sv-stale", kinds: ["probe": schema], heartbeat: Date().addingTimeInterval(-120))
            let stale = try await call(7, "monitor.create", #"{"name":"e","kind":"nope","target":"x"}"#)
            #expect(stale["result"]?.objectValue?["warnings"] != nil, "\(stale)")
        }
    }

    @Test("an idle connection is closed, but not while it holds a subscription")
    func idleTimeout() async throws {
        try await System.with({ $0.idleTimeout = .milliseconds(600) }) { system in
            let idle = try LineSession(system.socket)
            #expect(await idle.closedByServer(within: 5))
            let subscribed = try LineSession(system.socket)
            try subscribed.send(#"{"jsonrpc":"2.0","id":1,"method":"events.subscribe","params":{}}"#)
            #expect(try object(await subscribed.readLine())["result"] != nil)
            #expect(await !subscribed.closedByServer(within: 2))
        }
    }
}
