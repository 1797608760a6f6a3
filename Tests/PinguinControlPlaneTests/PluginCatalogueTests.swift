import Foundation
import PinguinControlPlane
import PinguinModel
import PinguinWire
import Testing

/// What `system.health` lists as problems, read from supervisor registrations as they are
/// published in Redis.
@Suite struct PluginCatalogueTests {
    private let now = Date(timeIntervalSince1970: 1_800_000_000)

    private func registration(id: String, heartbeatAgo: Double, plugins: [JSONValue]) -> JSONObject {
        JSONObject([
            "id": .string(id), "location": .string("eu"),
            "heartbeat_at": .string(RFC3339.string(now.addingTimeInterval(-heartbeatAgo))),
            "plugins": .array(plugins),
        ])
    }

    private func plugin(_ name: String, state: String, kind: String, schema: JSONValue = .object(JSONObject())) -> JSONValue {
        var entry = JSONObject([
            "name": .string(name), "state": .string(state), "restarts": .int(5),
            "kinds": .array([.object(JSONObject(["kind": .string(kind), "config_schema": schema]))]),
        ])
        if state == "failed" {
            entry.append("failed_until", .string("2027-01-15T08:10:00Z"))
            entry.append("last_error", .string("plugin exited with status 2"))
        }
        return .object(entry)
    }

    @Test func aHealthySupervisorHasNoProblems() {
        let snapshot = PluginCatalogue.build([registration(id: "s1", heartbeatAgo: 3, plugins: [plugin("pinguin-check-tcp", state: "running", kind: "tcp")])], now: now)
        #expect(snapshot.problems == [])
        #expect(snapshot.live == ["s1"])
        #expect(snapshot.kinds["tcp"] != nil)
    }

    @Test func aFailedPluginIsAProblemAndOffersNoKind() {
        let snapshot = PluginCatalogue.build([registration(id: "s1", heartbeatAgo: 3, plugins: [
            plugin("pinguin-check-tcp", state: "running", kind: "tcp"),
            plugin("pinguin-check-dns", state: "failed", kind: "dns"),
        ])], now: now)
        #expect(snapshot.problems == [
            "supervisor s1 (location eu): plugin pinguin-check-dns failed after 5 restarts; next try at 2027-01-15T08:10:00Z; last error: plugin exited with status 2",
        ])
        #expect(snapshot.kinds["dns"] == nil)
        #expect(snapshot.kinds["tcp"] != nil)
    }

    @Test func aSilentSupervisorIsAProblemAndNotLive() {
        let snapshot = PluginCatalogue.build([
            registration(id: "s1", heartbeatAgo: 3, plugins: []),
            registration(id: "s2", heartbeatAgo: 95, plugins: [plugin("pinguin-check-tcp", state: "running", kind: "tcp")]),
        ], now: now)
        #expect(snapshot.problems == ["supervisor s2 (location eu) has sent no heartbeat for 95 s"])
        #expect(snapshot.live == ["s1"])
        #expect(snapshot.kinds["tcp"] == nil)
    }

    @Test func aSchemaThatDoesNotCompileIsAProblem() {
        let broken: JSONValue = .object(JSONObject(["type": .string("no-such-type")]))
        let snapshot = PluginCatalogue.build([registration(id: "s1", heartbeatAgo: 1, plugins: [plugin("pinguin-check-x", state: "running", kind: "x", schema: broken)])], now: now)
        #expect(snapshot.problems.count == 1)
        #expect(snapshot.problems.first?.hasPrefix("kind x: its config schema is not usable: ") == true)
    }
}
