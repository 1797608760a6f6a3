import Foundation
import PinguinControlPlane
import PinguinPostgres
import PinguinStore
import PinguinTestSupport
import PinguinWire
import Synchronization
import Testing

/// A clock the test sets: what the methods take for now.
private final class TestClock: Sendable {
    private let current: Mutex<Date>

    init(_ text: String) {
        current = Mutex(RFC3339.parse(text)!)
    }

    var now: Date { current.withLock { $0 } }

    func set(_ text: String) {
        current.withLock { $0 = RFC3339.parse(text)! }
    }
}

/// Calls maintenance methods through the router, as the server does, against a migrated database of its own.
/// The harness plus the clock the methods read `now` from.
private struct API {
    let harness: RouterHarness
    let clock: TestClock

    var client: PostgresClient { harness.client }

    func ok(_ method: String, _ params: String = "{}") async throws -> JSONObject {
        try await harness.ok(method, params)
    }

    func error(_ method: String, _ params: String) async throws -> JSONRPCError {
        try await harness.error(method, params)
    }

    func names(_ params: String) async throws -> [String] {
        try await ok("maintenance.list", params)["windows"]?.arrayValue?.compactMap { $0.objectValue?["name"]?.stringValue } ?? []
    }

    func monitor(_ name: String, tags: [String] = []) async throws -> Int64 {
        var draft = MonitorDraft(name: name, kind: "http", target: "https://example.test/\(name)")
        draft.tags = tags
        return try await MonitorStore(client: client).create(draft)
    }

    static func with<T: Sendable>(now: String = "2026-05-04T12:00:00Z", _ body: (API) async throws -> T) async throws -> T {
        let clock = TestClock(now)
        return try await RouterHarness.with(register: { router, client in
            MaintenanceMethods.register(into: &router, store: MaintenanceStore(client: client), actor: { "test-user" }, now: { clock.now })
        }) { harness in
            try await body(API(harness: harness, clock: clock))
        }
    }
}

@Suite("maintenance.* methods", .enabled(if: TestServices.postgresEnabled, Comment(rawValue: TestServices.skipReason)), .timeLimit(.minutes(2)))
struct MaintenanceMethodsTests {
    @Test("one-off windows: create, get, list with filters, update and delete, each write audited")
    func oneOff() async throws {
        try await API.with(now: "2026-05-04T12:00:00Z") { api in
            let web = try await api.monitor("web", tags: ["prod", "web"])
            let db = try await api.monitor("db", tags: ["db"])
            let deploy = try await api.ok("maintenance.create", """
                {"name":"deploy","description":"release 4.2","starts_at":"2026-05-04T11:00:00Z","ends_at":"2026-05-04T15:00:00+02:00","monitor_ids":[\(web)]}
                """)
            let id = try #require(deploy["id"]?.int64Value)
            #expect(deploy["starts_at"] == .string("2026-05-04T11:00:00.000000Z"))
            #expect(deploy["ends_at"] == .string("2026-05-04T13:00:00.000000Z"))
            #expect(deploy["active_now"] == .bool(true))
            #expect(deploy["next_start"] == .null)
            #expect(deploy["cron"] == .null)
            #expect(deploy["duration_ms"] == .null)
            #expect(deploy["timezone"] == .string("UTC"))
            #expect(deploy["monitor_ids"] == .array([.int(web)]))
            #expect(deploy["tags"] == .array([]))
            #expect(deploy["enabled"] == .bool(true))
            #expect(try await api.ok("maintenance.get", #"{"id":\#(id)}"#) == deploy)

            let future = try await api.ok("maintenance.create", #"{"name":"future","starts_at":"2026-05-05T00:00:00Z","ends_at":"2026-05-05T02:00:00Z","tags":["db"]}"#)
            #expect(future["active_now"] == .bool(false))
            #expect(future["next_start"] == .string("2026-05-05T00:00:00.000000Z"))
            let past = try await api.ok("maintenance.create", #"{"name":"past","namespace":"lab","starts_at":"2026-05-01T00:00:00Z","ends_at":"2026-05-01T01:00:00Z","tags":["web"]}"#)
            #expect(past["active_now"] == .bool(false))
            #expect(past["next_start"] == .null)
            // Without starts_at, a one-off window starts now.
            let rightAway = try await api.ok("maintenance.create", #"{"name":"now","ends_at":"2026-05-04T18:00:00Z","monitor_ids":[\#(db)]}"#)
            #expect(rightAway["starts_at"] == .string("2026-05-04T12:00:00.000000Z"))
            #expect(rightAway["active_now"] == .bool(true))

            #expect(try await api.names(#"{"active":true}"#) == ["deploy", "now"])
            #expect(try await api.names(#"{"active":false}"#) == ["future", "past"])
            #expect(try await api.names(#"{"monitor_id":\#(web)}"#) == ["deploy", "past"])  // by id, and by its tag web
            #expect(try await api.names(#"{"monitor_id":\#(db)}"#) == ["future", "now"])
            #expect(try await api.names(#"{"monitor_id":\#(db),"active":true}"#) == ["now"])
            #expect(try await api.names(#"{"namespace":"lab"}"#) == ["past"])
            #expect(try await api.names(#"{"monitor_id":999}"#) == [])

            api.clock.set("2026-05-05T01:00:00Z")
            #expect(try await api.ok("maintenance.get", #"{"id":\#(try #require(future["id"]?.int64Value))}"#)["active_now"] == .bool(true))
            api.clock.set("2026-05-04T12:00:00Z")

            let disabled = try await api.ok("maintenance.update", #"{"id":\#(id),"enabled":false,"tags":["prod"],"description":"postponed"}"#)
            #expect(disabled["active_now"] == .bool(false))
            #expect(disabled["tags"] == .array([.string("prod")]))
            #expect(disabled["description"] == .string("postponed"))
            #expect(disabled["starts_at"] == deploy["starts_at"])
            let moved = try await api.ok("maintenance.update", #"{"id":\#(id),"enabled":true,"starts_at":"2026-05-06T00:00:00Z","ends_at":"2026-05-06T01:00:00Z"}"#)
            #expect(moved["next_start"] == .string("2026-05-06T00:00:00.000000Z"))
            let backwards = try await api.error("maintenance.update", #"{"id":\#(id),"ends_at":"2026-05-05T23:00:00Z"}"#)
            #expect(backwards.data?.objectValue?["field"] == .string("ends_at"))
            let duplicate = try await api.error("maintenance.update", #"{"id":\#(id),"name":"future"}"#)
            #expect(duplicate.code == MonitorMethods.conflictCode)
            #expect(try await api.error("maintenance.update", #"{"id":\#(id)}"#).data?.objectValue?["field"] == .string("params"))
            #expect(try await api.error("maintenance.update", #"{"id":424242,"name":"x"}"#).kind == "not_found")

            #expect(try await api.ok("maintenance.delete", #"{"id":\#(id)}"#)["deleted"] == .bool(true))
            #expect(try await api.error("maintenance.get", #"{"id":\#(id)}"#).code == MonitorMethods.notFoundCode)
            #expect(try await api.error("maintenance.delete", #"{"id":\#(id)}"#).kind == "not_found")

            let audit = try await api.client.query("SELECT actor, action, details::text FROM audit_log WHERE action LIKE 'maintenance.%' ORDER BY id")
            #expect(try audit.map { try $0.decode(String.self, column: 1) } == [
                "maintenance.create", "maintenance.create", "maintenance.create", "maintenance.create",
                "maintenance.update", "maintenance.update", "maintenance.delete",
            ])
            #expect(try audit.allSatisfy { try $0.decode(String.self, column: 0) == "test-user" })
            #expect(try audit[4].decode(String.self, column: 2) == #"{"fields": ["description", "tags", "enabled"]}"#)
        }
    }

    @Test("recurring windows follow cron in their time zone, across daylight saving time")
    func recurring() async throws {
        try await API.with(now: "2026-03-28T12:00:00Z") { api in
            let monitor = try await api.monitor("m")
            // 02:00 does not exist in Berlin on 2026-03-29: the window opens at 03:00 CEST (01:00Z).
            let sunday = try await api.ok("maintenance.create", """
                {"name":"sunday-night","cron":"0 2 * * SUN","duration_ms":7200000,"timezone":"Europe/Berlin","tags":["prod"]}
                """)
            let id = try #require(sunday["id"]?.int64Value)
            #expect(sunday["cron"] == .string("0 2 * * SUN"))
            #expect(sunday["duration_ms"] == .number("7200000"))
            #expect(sunday["timezone"] == .string("Europe/Berlin"))
            #expect(sunday["starts_at"] == .null)
            #expect(sunday["active_now"] == .bool(false))
            #expect(sunday["next_start"] == .string("2026-03-29T01:00:00.000000Z"))
            api.clock.set("2026-03-29T02:30:00Z")
            let during = try await api.ok("maintenance.get", #"{"id":\#(id)}"#)
            #expect(during["active_now"] == .bool(true))
            #expect(during["next_start"] == .string("2026-04-05T00:00:00.000000Z"))  // 02:00 CEST
            #expect(try await api.names(#"{"active":true}"#) == ["sunday-night"])
            api.clock.set("2026-03-29T03:00:00Z")
            #expect(try await api.ok("maintenance.get", #"{"id":\#(id)}"#)["active_now"] == .bool(false))

            let daily = try await api.ok("maintenance.create", #"{"name":"daily","cron":"30 1 * * *","duration_ms":60000,"monitor_ids":[\#(monitor)]}"#)
            #expect(daily["timezone"] == .string("UTC"))
            #expect(daily["next_start"] == .string("2026-03-30T01:30:00.000000Z"))

            // Recurring to one-off and back.
            let oneOff = try await api.ok("maintenance.update", #"{"id":\#(id),"starts_at":"2026-04-01T00:00:00Z","ends_at":"2026-04-01T01:00:00Z"}"#)
            #expect(oneOff["cron"] == .null)
            #expect(oneOff["duration_ms"] == .null)
            #expect(oneOff["next_start"] == .string("2026-04-01T00:00:00.000000Z"))
            let noDuration = try await api.error("maintenance.update", #"{"id":\#(id),"cron":"@daily"}"#)
            #expect(noDuration.data?.objectValue?["field"] == .string("duration_ms"))
            let durationOnly = try await api.error("maintenance.update", #"{"id":\#(id),"duration_ms":60000}"#)
            #expect(durationOnly.data?.objectValue?["field"] == .string("duration_ms"))
            let both = try await api.error("maintenance.update", #"{"id":\#(id),"cron":"@daily","duration_ms":60000,"ends_at":"2026-04-02T00:00:00Z"}"#)
            #expect(both.data?.objectValue?["field"] == .string("cron"))
            let recurring = try await api.ok("maintenance.update", #"{"id":\#(id),"cron":"@daily","duration_ms":60000,"timezone":"America/New_York"}"#)
            #expect(recurring["starts_at"] == .null)
            #expect(recurring["ends_at"] == .null)
            #expect(recurring["next_start"] == .string("2026-03-29T04:00:00.000000Z"))  // it is 23:00 EDT: next midnight is in an hour
            let badZone = try await api.error("maintenance.update", #"{"id":\#(id),"timezone":"Mars/Olympus"}"#)
            #expect(badZone.data?.objectValue?["field"] == .string("timezone"))
            let badCron = try await api.error("maintenance.update", #"{"id":\#(id),"cron":"0 25 * * *"}"#)
            #expect(badCron.data?.objectValue?["field"] == .string("cron"))
            #expect(badCron.message.contains("hour field"))
        }
    }

    @Test("the active filter pages correctly even when most windows are inactive")
    func activePages() async throws {
        try await API.with(now: "2026-05-04T12:00:00Z") { api in
            for index in 0..<7 {
                let active = index % 3 == 0
                let start = active ? "2026-05-04T11:00:00Z" : "2026-05-05T11:00:00Z"
                _ = try await api.ok("maintenance.create", #"{"name":"w\#(index)","starts_at":"\#(start)","ends_at":"2026-05-06T00:00:00Z","tags":["t"]}"#)
            }
            var names: [String] = []
            var after = "0"
            while true {
                let page = try await api.ok("maintenance.list", #"{"active":true,"limit":2,"after":\#(after)}"#)
                names += (page["windows"]?.arrayValue ?? []).compactMap { $0.objectValue?["name"]?.stringValue }
                guard case .number(let next) = page["next"] else { break }
                after = next
            }
            #expect(names == ["w0", "w3", "w6"])
            #expect(try await api.names(#"{"active":false,"limit":3}"#) == ["w1", "w2", "w4"])
        }
    }

    @Test("bad input is refused with an error naming the field, and nothing is stored")
    func validation() async throws {
        try await API.with { api in
            let cases: [(String, String)] = [
                (#"{"ends_at":"2026-05-05T00:00:00Z","tags":["a"]}"#, "name"),
                (#"{"name":"","ends_at":"2026-05-05T00:00:00Z","tags":["a"]}"#, "name"),
                (#"{"name":"a","cron":"@daily","duration_ms":60000,"starts_at":"2026-05-05T00:00:00Z","tags":["a"]}"#, "cron"),
                (#"{"name":"a","cron":"@daily","tags":["a"]}"#, "duration_ms"),
                (#"{"name":"a","ends_at":"2026-05-05T00:00:00Z","duration_ms":60000,"tags":["a"]}"#, "duration_ms"),
                (#"{"name":"a","cron":"@daily","duration_ms":1000,"tags":["a"]}"#, "duration_ms"),
                (#"{"name":"a","cron":"@daily","duration_ms":"1h","tags":["a"]}"#, "duration_ms"),
                (#"{"name":"a","tags":["a"]}"#, "ends_at"),
                (#"{"name":"a","starts_at":"2026-05-05T00:00:00Z","tags":["a"]}"#, "ends_at"),
                (#"{"name":"a","starts_at":"2026-05-05T00:00:00Z","ends_at":"2026-05-04T23:00:00Z","tags":["a"]}"#, "ends_at"),
                (#"{"name":"a","ends_at":"2026-05-04T11:00:00Z","tags":["a"]}"#, "ends_at"),  // before now
                (#"{"name":"a","starts_at":"tomorrow","ends_at":"2026-05-05T00:00:00Z","tags":["a"]}"#, "starts_at"),
                (#"{"name":"a","ends_at":"2026-02-30T00:00:00Z","tags":["a"]}"#, "ends_at"),
                (#"{"name":"a","cron":"61 * * * *","duration_ms":60000,"tags":["a"]}"#, "cron"),
                (#"{"name":"a","cron":"* * * *","duration_ms":60000,"tags":["a"]}"#, "cron"),
                (#"{"name":"a","cron":"0 0 30 2 *","duration_ms":60000,"tags":["a"]}"#, "cron"),
                (#"{"name":"a","cron":"@daily","duration_ms":60000,"timezone":"Mars/Olympus","tags":["a"]}"#, "timezone"),
                (#"{"name":"a","cron":"@daily","duration_ms":60000,"timezone":5,"tags":["a"]}"#, "timezone"),
                (#"{"name":"a","cron":"@daily","duration_ms":60000}"#, "monitor_ids"),
                (#"{"name":"a","cron":"@daily","duration_ms":60000,"monitor_ids":[],"tags":[]}"#, "monitor_ids"),
                (#"{"name":"a","cron":"@daily","duration_ms":60000,"monitor_ids":[424242]}"#, "monitor_ids"),
                (#"{"name":"a","cron":"@daily","duration_ms":60000,"monitor_ids":["1"]}"#, "monitor_ids[0]"),
                (#"{"name":"a","cron":"@daily","duration_ms":60000,"tags":[1]}"#, "tags[0]"),
                (#"{"name":"a","cron":"@daily","duration_ms":60000,"tags":["a"],"namespace":"Bad"}"#, "namespace"),
                (#"{"name":"a","cron":"@daily","duration_ms":60000,"tags":["a"],"description":5}"#, "description"),
                (#"{"name":"a","cron":"@daily","duration_ms":60000,"tags":["a"],"enabled":1}"#, "enabled"),
                (#"{"name":"a","cron":"@daily","duration_ms":60000,"tags":["a"],"colour":"red"}"#, "colour"),
            ]
            for (params, field) in cases {
                let error = try await api.error("maintenance.create", params)
                #expect(error.code == JSONRPCError.invalidParamsCode, "\(params): \(error)")
                #expect(error.data?.objectValue?["field"] == .string(field), "\(params): \(error)")
            }
            #expect(try await api.client.query("SELECT count(*) FROM maintenance_windows")[0].decode(Int.self, column: 0) == 0)
            _ = try await api.ok("maintenance.create", #"{"name":"a","cron":"@daily","duration_ms":60000,"tags":["a"]}"#)
            let conflict = try await api.error("maintenance.create", #"{"name":"a","cron":"@daily","duration_ms":60000,"tags":["a"]}"#)
            #expect(conflict.code == MonitorMethods.conflictCode)
            #expect(conflict.data?.objectValue?["field"] == .string("name"))
            #expect(try await api.error("maintenance.list", #"{"active":"yes"}"#).data?.objectValue?["field"] == .string("active"))
            #expect(try await api.error("maintenance.get", "[1]").code == JSONRPCError.invalidParamsCode)
        }
    }
}
