import Foundation
import PinguinControlPlane
import PinguinPostgres
import PinguinStore
import PinguinTestSupport
import PinguinWire
import Testing

private typealias API = RouterHarness

private extension RouterHarness {
    static func with<T: Sendable>(_ body: (RouterHarness) async throws -> T) async throws -> T {
        try await with(register: { router, client in
            MonitorMethods.register(into: &router, store: MonitorStore(client: client), actor: { "test-user" })
        }, body)
    }
}

@Suite("monitor.* methods", .enabled(if: TestServices.postgresEnabled, Comment(rawValue: TestServices.skipReason)), .timeLimit(.minutes(2)))
struct MonitorMethodsTests {
    @Test("create, get, list, pause, resume and delete, each write audited")
    func lifecycle() async throws {
        try await API.with { api in
            let created = try await api.ok("monitor.create", #"{"name":"homepage","kind":"http","target":"https://example.test/","tags":["web","prod"],"config":{"method":"GET"}}"#)
            let id = try #require(created["id"]?.int64Value)
            #expect(created["interval_ms"] == .number("60000"))
            #expect(created["timeout_ms"] == .number("10000"))
            #expect(created["retry_interval_ms"] == .number("20000"))
            #expect(created["config"]?.objectValue?["method"] == .string("GET"))
            #expect(try await api.ok("monitor.get", #"{"id":\#(id)}"#)["name"] == .string("homepage"))
            _ = try await api.ok("monitor.create", #"{"name":"dns","kind":"dns","target":"example.test","interval_ms":30000,"tags":["prod"]}"#)

            let prod = try await api.ok("monitor.list", #"{"tags":["prod"]}"#)
            #expect(prod["monitors"]?.arrayValue?.count == 2)
            let web = try await api.ok("monitor.list", #"{"tags":["web","prod"],"kind":"http"}"#)
            #expect(web["monitors"]?.arrayValue?.count == 1)
            let text = try await api.ok("monitor.list", #"{"text":"EXAMPLE.TEST/"}"#)
            #expect(text["monitors"]?.arrayValue?.count == 1)
            let page = try await api.ok("monitor.list", #"{"limit":1}"#)
            #expect(page["next"] == .number(String(id)))
            let rest = try await api.ok("monitor.list", #"{"limit":1,"after":\#(id)}"#)
            #expect(rest["monitors"]?.arrayValue?.first?.objectValue?["name"] == .string("dns"))

            let paused = try await api.ok("monitor.pause", #"{"id":\#(id)}"#)
            #expect(paused["paused"] == .bool(true))
            #expect(paused["version"] == .number("2"))
            #expect(try await api.ok("monitor.pause", #"{"id":\#(id)}"#)["version"] == .number("2"))  // no change, no new version
            #expect(try await api.ok("monitor.resume", #"{"id":\#(id)}"#)["paused"] == .bool(false))
            #expect(try await api.ok("monitor.delete", #"{"id":\#(id)}"#)["deleted"] == .bool(true))
            #expect(try await api.error("monitor.get", #"{"id":\#(id)}"#).kind == "not_found")
            #expect(try await api.error("monitor.delete", #"{"id":\#(id)}"#).code == MonitorMethods.notFoundCode)

            let audit = try await api.client.query("SELECT actor, action FROM audit_log ORDER BY id")
            #expect(try audit.map { try $0.decode(String.self, column: 1) } == [
                "monitor.create", "monitor.create", "monitor.pause", "monitor.pause", "monitor.resume", "monitor.delete",
            ])
            #expect(try audit.allSatisfy { try $0.decode(String.self, column: 0) == "test-user" })
        }
    }

    @Test("bad input is refused with an error naming the field, and nothing is stored", arguments: [
        (#"{"kind":"http","target":"x"}"#, "name"),
        (#"{"name":"a","kind":"http","target":"x","interval_ms":500}"#, "interval_ms"),
        (#"{"name":"a","kind":"http","target":"x","interval_ms":1500.5}"#, "interval_ms"),
        (#"{"name":"a","kind":"http","target":"x","interval_ms":"60000"}"#, "interval_ms"),
        (#"{"name":"a","kind":"http","target":"x","interval_ms":5000,"timeout_ms":6000}"#, "timeout_ms"),
        (#"{"name":"a","kind":"http","target":"x","tags":["ok",3]}"#, "tags[1]"),
        (#"{"name":"a","kind":"http","target":"x","config":[1]}"#, "config"),
        (#"{"name":"a","kind":"http","target":"x","colour":"blue"}"#, "colour"),
        (#"{"name":"a","kind":"Not A Kind","target":"x"}"#, "kind"),
        (#"{"name":"","kind":"http","target":"x"}"#, "name"),
        (#"{"name":"a","kind":"http","target":"x","namespace":"Bad Space"}"#, "namespace"),
    ])
    func validation(_ params: String, _ field: String) async throws {
        try await API.with { api in
            let error = try await api.error("monitor.create", params)
            #expect(error.code == JSONRPCError.invalidParamsCode, "\(error)")
            #expect(error.data?.objectValue?["field"] == .string(field), "\(error)")
            let count = try await api.client.query("SELECT count(*) FROM monitors")
            #expect(try count[0].decode(Int.self, column: 0) == 0)
        }
    }

    @Test("update changes only what is given, raises the version, and refuses a stale version")
    func update() async throws {
        try await API.with { api in
            let created = try await api.ok("monitor.create", #"{"name":"u","kind":"http","target":"http://127.0.0.1/a","tags":["x"]}"#)
            let id = try #require(created["id"]?.int64Value)
            let updated = try await api.ok("monitor.update", #"{"id":\#(id),"version":1,"target":"http://127.0.0.1/b","interval_ms":30000}"#)
            #expect(updated["target"] == .string("http://127.0.0.1/b"))
            #expect(updated["interval_ms"] == .number("30000"))
            #expect(updated["tags"] == .array([.string("x")]))
            #expect(updated["version"] == .number("2"))
            let stale = try await api.error("monitor.update", #"{"id":\#(id),"version":1,"name":"v"}"#)
            #expect(stale.kind == "version_conflict")
            #expect(stale.data?.objectValue?["current_version"] == .number("2"))
            #expect(try await api.error("monitor.update", #"{"id":\#(id)}"#).code == JSONRPCError.invalidParamsCode)
            #expect(try await api.error("monitor.update", #"{"id":99999,"name":"z"}"#).kind == "not_found")
            // The database still guards the whole row: a timeout beyond the interval is refused.
            let tooLong = try await api.error("monitor.update", #"{"id":\#(id),"timeout_ms":40000}"#)
            #expect(tooLong.data?.objectValue?["field"] == .string("timeout_ms"))
            let audit = try await api.client.query("SELECT details::text FROM audit_log WHERE action = 'monitor.update'")
            #expect(try audit.map { try $0.decode(String.self, column: 0) } == [#"{"fields": ["target", "interval_ms"]}"#])
        }
    }

    @Test("a duplicate name in the same namespace is a conflict; another namespace is fine")
    func conflict() async throws {
        try await API.with { api in
            _ = try await api.ok("monitor.create", #"{"name":"a","kind":"tcp","target":"127.0.0.1:22"}"#)
            let error = try await api.error("monitor.create", #"{"name":"a","kind":"tcp","target":"127.0.0.1:23"}"#)
            #expect(error.code == MonitorMethods.conflictCode)
            #expect(error.kind == "conflict")
            _ = try await api.ok("monitor.create", #"{"name":"a","kind":"tcp","target":"127.0.0.1:23","namespace":"lab"}"#)
            #expect(try await api.error("monitor.get", "[5]").code == JSONRPCError.invalidParamsCode)
        }
    }

    @Test("depends_on: create with dependencies, get and list show them, update replaces, [] clears, each audited")
    func dependencies() async throws {
        try await API.with { api in
            let router = try #require(try await api.ok("monitor.create", #"{"name":"router","kind":"ping","target":"192.0.2.1"}"#)["id"]?.int64Value)
            let database = try #require(try await api.ok("monitor.create", #"{"name":"db","kind":"tcp","target":"127.0.0.1:5432"}"#)["id"]?.int64Value)
            #expect(try await api.ok("monitor.get", #"{"id":\#(router)}"#)["depends_on"] == .array([]))
            let created = try await api.ok("monitor.create", #"{"name":"web","kind":"http","target":"http://127.0.0.1/","depends_on":[\#(database),\#(router),\#(database)]}"#)
            let web = try #require(created["id"]?.int64Value)
            #expect(created["depends_on"] == .array([.int(router), .int(database)]), "sorted, duplicates collapsed")
            #expect(try await api.ok("monitor.get", #"{"id":\#(web)}"#)["depends_on"] == .array([.int(router), .int(database)]))
            let listed = try await api.ok("monitor.list", #"{"text":"127.0.0.1/"}"#)["monitors"]?.arrayValue?.first?.objectValue
            #expect(listed?["depends_on"] == .array([.int(router), .int(database)]))

            let replaced = try await api.ok("monitor.update", #"{"id":\#(web),"version":1,"depends_on":[\#(router)]}"#)
            #expect(replaced["depends_on"] == .array([.int(router)]))
            #expect(replaced["version"] == .number("2"))
            #expect(try await api.ok("monitor.update", #"{"id":\#(web),"description":"front"}"#)["depends_on"] == .array([.int(router)]), "unchanged when not given")
            #expect(try await api.ok("monitor.update", #"{"id":\#(web),"depends_on":[]}"#)["depends_on"] == .array([]))
            #expect(try await Self.links(api) == [])
            let audit = try await api.client.query("SELECT details::text FROM audit_log WHERE action = 'monitor.update' ORDER BY id")
            #expect(try audit.map { try $0.decode(String.self, column: 0) } == [
                #"{"fields": ["depends_on"]}"#, #"{"fields": ["description"]}"#, #"{"fields": ["depends_on"]}"#,
            ])
        }
    }

    @Test("depends_on naming unknown monitors, the monitor itself, a cycle (at any depth) or too many is refused, naming the field, and nothing is stored")
    func dependencyRefusals() async throws {
        try await API.with { api in
            var ids: [Int64] = []
            for name in ["a", "b", "c"] {
                ids.append(try #require(try await api.ok("monitor.create", #"{"name":"\#(name)","kind":"tcp","target":"127.0.0.1:1"}"#)["id"]?.int64Value))
            }
            let (a, b, c) = (ids[0], ids[1], ids[2])
            _ = try await api.ok("monitor.update", #"{"id":\#(a),"depends_on":[\#(b)]}"#)
            _ = try await api.ok("monitor.update", #"{"id":\#(b),"depends_on":[\#(c)]}"#)
            let before = try await Self.links(api)
            #expect(before == [[a, b], [b, c]])

            let unknown = try await api.error("monitor.create", #"{"name":"d","kind":"tcp","target":"x:1","depends_on":[\#(a),99998,99999]}"#)
            #expect(unknown.message == "Invalid params: depends_on names monitors that do not exist: 99998, 99999", "\(unknown)")
            #expect(unknown.data?.objectValue?["field"] == .string("depends_on"))
            #expect(try await api.client.query("SELECT count(*) FROM monitors")[0].decode(Int.self, column: 0) == 3)
            let unknownUpdate = try await api.error("monitor.update", #"{"id":\#(c),"name":"renamed","depends_on":[99999]}"#)
            #expect(unknownUpdate.message == "Invalid params: depends_on names monitors that do not exist: 99999", "\(unknownUpdate)")

            let itself = try await api.error("monitor.update", #"{"id":\#(a),"depends_on":[\#(b),\#(a)]}"#)
            #expect(itself.message.contains("a monitor cannot depend on itself"), "\(itself)")
            #expect(itself.data?.objectValue?["field"] == .string("depends_on"))

            // c -> a closes a -> b -> c -> a (depth 3); the name change in the same call is not kept either.
            let cycle = try await api.error("monitor.update", #"{"id":\#(c),"name":"renamed","depends_on":[\#(a)]}"#)
            #expect(cycle.message == "Invalid params: depends_on would make a cycle: \(c) → \(a) → \(b) → \(c)", "\(cycle)")
            #expect(cycle.data?.objectValue?["field"] == .string("depends_on"))
            let short = try await api.error("monitor.update", #"{"id":\#(b),"depends_on":[\#(c),\#(a)]}"#)
            #expect(short.message == "Invalid params: depends_on would make a cycle: \(b) → \(a) → \(b)", "\(short)")

            let many = "[" + (1...21).map(String.init).joined(separator: ",") + "]"
            let tooMany = try await api.error("monitor.update", #"{"id":\#(c),"depends_on":\#(many)}"#)
            #expect(tooMany.data?.objectValue?["field"] == .string("depends_on"), "\(tooMany)")
            let notPositive = try await api.error("monitor.create", #"{"name":"e","kind":"tcp","target":"x:1","depends_on":[0]}"#)
            #expect(notPositive.data?.objectValue?["field"] == .string("depends_on[0]"), "\(notPositive)")

            #expect(try await Self.links(api) == before)
            let c2 = try await api.ok("monitor.get", #"{"id":\#(c)}"#)
            #expect(c2["name"] == .string("c") && c2["version"] == .number("1"), "\(c2)")
            #expect(try await api.client.query("SELECT count(*) FROM monitors")[0].decode(Int.self, column: 0) == 3)
        }
    }

    @Test("the store refuses more than 20 dependencies after collapsing duplicates")
    func storeLimit() async throws {
        try await API.with { api in
            let store = MonitorStore(client: api.client)
            var ids: [Int64] = []
            for index in 0..<21 { ids.append(try await store.create(MonitorDraft(name: "m\(index)", kind: "tcp", target: "x:1"))) }
            var draft = MonitorDraft(name: "many", kind: "tcp", target: "x:1")
            draft.dependsOn = ids
            await #expect(throws: MonitorDependencyError(code: .tooMany)) { try await store.create(draft, actor: "test") }
            draft.dependsOn = Array(ids.prefix(20)) + Array(ids.prefix(20))
            #expect(try await store.create(draft, actor: "test").dependsOn == Array(ids.prefix(20)))
        }
    }

    @Test("deleting a monitor removes the links to and from it")
    func deleteRemovesLinks() async throws {
        try await API.with { api in
            let a = try #require(try await api.ok("monitor.create", #"{"name":"a","kind":"tcp","target":"127.0.0.1:1"}"#)["id"]?.int64Value)
            let b = try #require(try await api.ok("monitor.create", #"{"name":"b","kind":"tcp","target":"127.0.0.1:2","depends_on":[\#(a)]}"#)["id"]?.int64Value)
            let c = try #require(try await api.ok("monitor.create", #"{"name":"c","kind":"tcp","target":"127.0.0.1:3","depends_on":[\#(b)]}"#)["id"]?.int64Value)
            #expect(try await Self.links(api) == [[b, a], [c, b]])
            _ = try await api.ok("monitor.delete", #"{"id":\#(b)}"#)
            #expect(try await Self.links(api) == [])
            #expect(try await api.ok("monitor.get", #"{"id":\#(c)}"#)["depends_on"] == .array([]))
        }
    }

    @Test("two updates made at the same time, a -> b and b -> a, cannot both succeed")
    func concurrentCycle() async throws {
        try await API.with { api in
            for round in 0..<3 {
                let a = try #require(try await api.ok("monitor.create", #"{"name":"a\#(round)","kind":"tcp","target":"127.0.0.1:1"}"#)["id"]?.int64Value)
                let b = try #require(try await api.ok("monitor.create", #"{"name":"b\#(round)","kind":"tcp","target":"127.0.0.1:2"}"#)["id"]?.int64Value)
                // Hold the table so that both updates are in flight, then let them race.
                let (first, second) = try await api.client.withTransaction { blocker in
                    try await blocker.query("LOCK TABLE monitor_dependencies IN SHARE ROW EXCLUSIVE MODE")
                    let first = Task { try await api.call("monitor.update", #"{"id":\#(a),"depends_on":[\#(b)]}"#) }
                    let second = Task { try await api.call("monitor.update", #"{"id":\#(b),"depends_on":[\#(a)]}"#) }
                    for _ in 0..<400 {
                        let waiting = try await api.client.query(
                            "SELECT count(*) FROM pg_locks WHERE relation = 'monitor_dependencies'::regclass AND NOT granted")
                        if try waiting[0].decode(Int.self, column: 0) == 2 { break }
                        try await Task.sleep(for: .milliseconds(10))
                    }
                    return (first, second)
                }
                let outcomes = [try await first.value, try await second.value]
                let refused = outcomes.compactMap { outcome -> JSONRPCError? in
                    if case .failure(let error) = outcome { return error }
                    return nil
                }
                #expect(refused.count == 1, "\(outcomes)")
                #expect(refused.first?.message.contains("depends_on would make a cycle") == true, "\(refused)")
                #expect(refused.first?.data?.objectValue?["field"] == .string("depends_on"))
                let links = try await Self.links(api).filter { Set($0).isSubset(of: [a, b]) }
                #expect(links.count == 1, "\(links)")
            }
        }
    }

    /// Every stored link as [monitor, dependency], in order.
    private static func links(_ api: API) async throws -> [[Int64]] {
        try await api.client.query("SELECT monitor_id, depends_on FROM monitor_dependencies ORDER BY 1, 2")
            .map { [try $0.decode(Int64.self, column: 0), try $0.decode(Int64.self, column: 1)] }
    }
}
