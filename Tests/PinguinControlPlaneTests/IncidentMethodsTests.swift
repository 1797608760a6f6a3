import Foundation
import PinguinControlPlane
import PinguinPostgres
import PinguinStore
import PinguinTestSupport
import PinguinWire
import Testing

/// Calls incident methods through the router, as the server does, against a migrated database of
/// its own. Incidents are inserted with SQL, as the status engine will write them.
private typealias API = RouterHarness

private extension RouterHarness {
    /// The ids of the listed incidents, in the order given.
    func ids(_ params: String) async throws -> [Int64] {
        try await ok("incident.list", params)["incidents"]?.arrayValue?.compactMap { $0.objectValue?["id"]?.int64Value } ?? []
    }

    func monitor(_ name: String) async throws -> Int64 {
        try await MonitorStore(client: client).create(MonitorDraft(name: name, kind: "tcp", target: "127.0.0.1:1"))
    }

    @discardableResult
    func incident(_ monitor: Int64, _ start: String, _ end: String?, failed: Int32 = 3, causedBy: Int64? = nil) async throws -> Int64 {
        try await client.query("""
            INSERT INTO incidents (monitor_id, started_at, ended_at, first_message, last_message, failed_checks, caused_by)
            VALUES ($1, $2::timestamptz, $3::timestamptz, 'connection refused', 'timed out', $4, $5) RETURNING id
            """, [monitor, start, end, failed, causedBy])[0].decode(Int64.self, column: 0)
    }

    static func with<T: Sendable>(_ body: (RouterHarness) async throws -> T) async throws -> T {
        try await with(register: { router, client in
            IncidentMethods.register(into: &router, store: IncidentStore(client: client))
        }, body)
    }
}

@Suite("incident.* methods", .enabled(if: TestServices.postgresEnabled, Comment(rawValue: TestServices.skipReason)), .timeLimit(.minutes(2)))
struct IncidentMethodsTests {
    @Test("get shows the monitor, times, duration and cause")
    func get() async throws {
        try await API.with { api in
            let router = try await api.monitor("router")
            let web = try await api.monitor("web")
            let cause = try await api.incident(router, "2026-05-04T10:00:00Z", "2026-05-04T10:05:30.250Z", failed: 11)
            let effect = try await api.incident(web, "2026-05-04T10:01:00Z", nil, causedBy: cause)

            let closed = try await api.ok("incident.get", #"{"id":\#(cause)}"#)
            #expect(closed["monitor_id"] == .int(router))
            #expect(closed["monitor_name"] == .string("router"))
            #expect(closed["started_at"] == .string("2026-05-04T10:00:00.000000Z"))
            #expect(closed["ended_at"] == .string("2026-05-04T10:05:30.250000Z"))
            #expect(closed["duration_ms"] == .number("330250"))
            #expect(closed["first_message"] == .string("connection refused"))
            #expect(closed["last_message"] == .string("timed out"))
            #expect(closed["failed_checks"] == .number("11"))
            #expect(closed["caused_by"] == .null)

            let open = try await api.ok("incident.get", #"{"id":\#(effect)}"#)
            #expect(open["ended_at"] == .null)
            #expect(open["duration_ms"] == .null)
            #expect(open["caused_by"] == .int(cause))

            let missing = try await api.error("incident.get", #"{"id":424242}"#)
            #expect(missing.code == MonitorMethods.notFoundCode)
            #expect(missing.kind == "not_found")
            #expect(try await api.error("incident.get", #"{"id":0}"#).data?.objectValue?["field"] == .string("id"))
            #expect(try await api.error("incident.get", #"{"id":1,"verbose":true}"#).data?.objectValue?["field"] == .string("verbose"))
        }
    }

    @Test("list is newest first, filters by monitor, state and time, and pages without gaps or repeats")
    func list() async throws {
        try await API.with { api in
            let a = try await api.monitor("a")
            let b = try await api.monitor("b")
            let i1 = try await api.incident(a, "2026-05-01T00:00:00Z", "2026-05-01T01:00:00Z")
            let i2 = try await api.incident(b, "2026-05-02T00:00:00Z", "2026-05-02T00:10:00Z")
            let i3 = try await api.incident(a, "2026-05-03T00:00:00Z", "2026-05-03T02:00:00Z")
            let i4 = try await api.incident(b, "2026-05-03T00:00:00Z", nil)  // same start as i3: id breaks the tie
            let i5 = try await api.incident(a, "2026-04-30T00:00:00Z", "2026-04-30T00:01:00Z")  // inserted late, started early
            let i6 = try await api.incident(a, "2026-05-04T00:00:00Z", nil)

            #expect(try await api.ids("{}") == [i6, i4, i3, i2, i1, i5])
            #expect(try await api.ids(#"{"monitor_id":\#(a)}"#) == [i6, i3, i1, i5])
            #expect(try await api.ids(#"{"open":true}"#) == [i6, i4])
            #expect(try await api.ids(#"{"open":false,"monitor_id":\#(b)}"#) == [i2])
            // Incidents overlapping 2026-05-01T00:30Z … 2026-05-03T00:00Z (until excluded).
            #expect(try await api.ids(#"{"since":"2026-05-01T00:30:00Z","until":"2026-05-03T00:00:00Z"}"#) == [i2, i1])
            #expect(try await api.ids(#"{"since":"2026-05-03T01:00:00+00:00"}"#) == [i6, i4, i3])
            #expect(try await api.ids(#"{"until":"2026-05-01T00:00:00.000001Z"}"#) == [i1, i5])

            var seen: [Int64] = []
            var after: String?
            var pages = 0
            repeat {
                let params = after.map { #"{"limit":2,"after":\#($0)}"# } ?? #"{"limit":2}"#
                let page = try await api.ok("incident.list", params)
                seen += (page["incidents"]?.arrayValue ?? []).compactMap { $0.objectValue?["id"]?.int64Value }
                after = page["next"]?.int64Value.map(String.init)
                pages += 1
            } while after != nil
            #expect(seen == [i6, i4, i3, i2, i1, i5])
            #expect(pages == 4)
            let first = try await api.ok("incident.list", #"{"limit":1,"monitor_id":\#(b)}"#)
            #expect(first["next"] == .int(i4))
            #expect(try await api.ids(#"{"limit":5,"monitor_id":\#(b),"after":\#(i4)}"#) == [i2])

            // A cursor whose incident went away with its monitor is refused, naming after.
            try await MonitorStore(client: api.client).delete(id: b)
            let gone = try await api.error("incident.list", #"{"after":\#(i4)}"#)
            #expect(gone.data?.objectValue?["field"] == .string("after"))
            #expect(try await api.ids("{}") == [i6, i3, i1, i5])
        }
    }

    @Test("bad list parameters name the field", arguments: [
        (#"{"since":"last week"}"#, "since"),
        (#"{"until":"2026-13-01T00:00:00Z"}"#, "until"),
        (#"{"since":"2026-05-02T00:00:00Z","until":"2026-05-01T00:00:00Z"}"#, "until"),
        (#"{"open":"yes"}"#, "open"),
        (#"{"monitor_id":-1}"#, "monitor_id"),
        (#"{"limit":1001}"#, "limit"),
        (#"{"after":"5"}"#, "after"),
        (#"{"state":"open"}"#, "state"),
    ])
    func validation(_ params: String, _ field: String) async throws {
        try await API.with { api in
            let error = try await api.error("incident.list", params)
            #expect(error.code == JSONRPCError.invalidParamsCode, "\(error)")
            #expect(error.data?.objectValue?["field"] == .string(field), "\(error)")
        }
    }
}
