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
}
