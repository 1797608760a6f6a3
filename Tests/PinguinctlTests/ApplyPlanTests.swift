import PinguinWire
import PinguinctlKit
import Testing

private let file = """
namespace: shop
monitors:
  - name: web
    kind: http
    target: https://shop.example.com/health
    interval: 30s
    tags: [public, frontend]
    config: {expected_status: 200, follow_redirects: true}
  - name: api
    kind: http
    target: https://api.example.com
    failure_threshold: 2
"""

@Suite("Apply plans")
struct ApplyPlanTests {
    private func apply(_ text: String, to server: FakeControlPlane, prune: Bool = false) throws -> ApplyPlan {
        let runner = ApplyRunner(client: server)
        let plan = try runner.plan(try Manifest.parse(text, source: "f.yaml"), prune: prune)
        var failures: [String] = []
        runner.execute(plan, report: { _ in }, warn: { failures.append($0) })
        #expect(failures.isEmpty, "\(failures)")
        return plan
    }

    private func dryRun(_ text: String, on server: FakeControlPlane, prune: Bool = false) throws -> ApplyPlan {
        try ApplyRunner(client: server).plan(try Manifest.parse(text, source: "f.yaml"), prune: prune)
    }

    @Test("a new file creates; the same file again changes nothing and keeps the state")
    func idempotent() throws {
        let server = FakeControlPlane()
        let first = try apply(file, to: server)
        #expect(first.diffLines == [
            "+ create monitor shop/web (http https://shop.example.com/health every 30s)",
            "+ create monitor shop/api (http https://api.example.com)",
        ])
        server.setState("web", "down")
        let calls = server.calls.count
        let second = try apply(file, to: server)
        #expect(!second.hasChanges)
        #expect(second.unchanged.count == 2)
        #expect(server.calls.count == calls + 1, "only monitor.list: \(server.calls.suffix(3))")
        #expect(server.monitor("shop", "web")?["status"]?.objectValue?["state"] == .string("down"))
        #expect(server.monitor("shop", "web")?["version"] == .int(1))
    }

    @Test("an update sends only the changed fields, with the version read")
    func update() throws {
        let server = FakeControlPlane()
        _ = try apply(file, to: server)
        let changed = file.replacingOccurrences(of: "interval: 30s", with: "interval: 1m")
            .replacingOccurrences(of: "failure_threshold: 2", with: "failure_threshold: 2\n    description: main API")
        let plan = try dryRun(changed, on: server)
        #expect(plan.diffLines == [
            "~ update monitor shop/web: interval_ms 30000 -> 60000",
            #"~ update monitor shop/api: description "" -> "main API""#,
        ])
        guard case .update(_, let version, _, let changes, let pause) = plan.actions[0] else {
            Issue.record("expected an update")
            return
        }
        #expect(version == 1)
        #expect(changes.map(\.field) == ["interval_ms"])
        #expect(pause == nil)
        _ = try apply(changed, to: server)
        #expect(server.monitor("shop", "web")?["interval_ms"] == .int(60_000))
        #expect(server.monitor("shop", "web")?["version"] == .int(2))
        #expect(!(try dryRun(changed, on: server)).hasChanges)
    }

    @Test("pause state is touched only when the file says paused:")
    func paused() throws {
        let server = FakeControlPlane()
        _ = try apply(file, to: server)
        _ = try server.call("monitor.pause", JSONObject(["id": server.monitor("shop", "web")!["id"]!]))
        #expect(!(try dryRun(file, on: server)).hasChanges)
        let resumed = file.replacingOccurrences(of: "interval: 30s", with: "interval: 30s\n    paused: false")
        let plan = try dryRun(resumed, on: server)
        #expect(plan.diffLines == ["~ update monitor shop/web: paused true -> false"])
        _ = try apply(resumed, to: server)
        #expect(server.monitor("shop", "web")?["paused"] == .bool(false))
        #expect(server.calls.last == "monitor.resume")
    }

    @Test("--prune deletes only monitors of the file's namespaces that it no longer has")
    func prune() throws {
        let server = FakeControlPlane()
        _ = try apply(file, to: server)
        _ = try server.call("monitor.create", JSONObject(["namespace": .string("other"), "name": .string("keep"), "kind": .string("tcp"), "target": .string("x:1")]))
        let smaller = """
        namespace: shop
        monitors:
          - {name: web, kind: http, target: "https://shop.example.com/health", interval: 30s}
        """
        #expect(!(try dryRun(smaller, on: server)).hasChanges)
        let plan = try dryRun(smaller, on: server, prune: true)
        #expect(plan.diffLines == ["- delete monitor shop/api"])
        _ = try apply(smaller, to: server, prune: true)
        #expect(server.monitor("shop", "api") == nil)
        #expect(server.monitor("other", "keep") != nil)
    }

    @Test("a changed kind is a problem, not a silent re-create")
    func kindChange() throws {
        let server = FakeControlPlane()
        _ = try apply(file, to: server)
        let plan = try dryRun(file.replacingOccurrences(of: "kind: http\n    target: https://api", with: "kind: tcp\n    target: https://api"), on: server)
        #expect(plan.problems.count == 1)
        #expect(plan.problems[0].contains("shop/api: kind cannot change (http -> tcp)"))
    }

    @Test("a version conflict is reported and the rest goes on")
    func conflict() throws {
        let server = FakeControlPlane()
        _ = try apply(file, to: server)
        let runner = ApplyRunner(client: server)
        let plan = try runner.plan(try Manifest.parse(file.replacingOccurrences(of: "30s", with: "45s"), source: "f.yaml"), prune: false)
        _ = try server.call("monitor.update", JSONObject(["id": server.monitor("shop", "web")!["id"]!, "description": .string("someone else")]))
        var warnings: [String] = []
        let failures = runner.execute(plan, report: { _ in }, warn: { warnings.append($0) })
        #expect(failures == 1)
        #expect(warnings == ["monitor shop/web: changed on the server since it was read; run apply again"])
    }

    private static let dependent = """
    namespace: shop
    monitors:
      - name: web
        kind: http
        target: https://shop.example.com/health
        depends_on: [db, infra/router]
      - name: db
        kind: tcp
        target: db.internal:5432
        depends_on: [infra/router]
    """

    @Test("depends_on by name: dependencies are created first and sent as ids; the same file again changes nothing")
    func dependencies() throws {
        let server = FakeControlPlane()
        let router = try #require(try server.call("monitor.create", JSONObject([
            "namespace": .string("infra"), "name": .string("router"), "kind": .string("ping"), "target": .string("192.0.2.1"),
        ])).objectValue?["id"])
        let plan = try apply(Self.dependent, to: server)
        #expect(plan.diffLines == [
            "+ create monitor shop/db (tcp db.internal:5432, depends on infra/router)",
            "+ create monitor shop/web (http https://shop.example.com/health, depends on db, infra/router)",
        ])
        let db = try #require(server.monitor("shop", "db")?["id"])
        #expect(server.monitor("shop", "db")?["depends_on"] == .array([router]))
        #expect(server.monitor("shop", "web")?["depends_on"] == .array([router, db]))
        let again = try dryRun(Self.dependent, on: server)
        #expect(!again.hasChanges, "\(again.diffLines)")
        // Ids, as `monitor get -o yaml` shows them, mean the same.
        let byID = Self.dependent.replacingOccurrences(of: "depends_on: [db, infra/router]", with: "depends_on: [\(db.displayText), \(router.displayText)]")
        #expect(!(try dryRun(byID, on: server)).hasChanges)
    }

    @Test("turning a dependency around updates the old dependent first, so the server never sees a cycle")
    func reversed() throws {
        let server = FakeControlPlane()
        _ = try server.call("monitor.create", JSONObject([
            "namespace": .string("infra"), "name": .string("router"), "kind": .string("ping"), "target": .string("192.0.2.1"),
        ]))
        _ = try apply(Self.dependent, to: server)
        let turned = Self.dependent.replacingOccurrences(of: "depends_on: [db, infra/router]", with: "depends_on: [infra/router]")
            .replacingOccurrences(of: "db.internal:5432\n    depends_on: [infra/router]", with: "db.internal:5432\n    depends_on: [web]")
        let plan = try dryRun(turned, on: server)
        #expect(plan.diffLines == [
            #"~ update monitor shop/web: depends_on ["infra/router","shop/db"] -> ["infra/router"]"#,
            #"~ update monitor shop/db: depends_on ["infra/router"] -> ["shop/web"]"#,
        ])
        _ = try apply(turned, to: server)
        #expect(server.monitor("shop", "db")?["depends_on"] == .array([server.monitor("shop", "web")!["id"]!]))
        #expect(!(try dryRun(turned, on: server)).hasChanges)
    }

    @Test("a dependency that is nowhere, or that --prune would delete, is a problem before anything changes")
    func dependencyProblems() throws {
        let server = FakeControlPlane()
        let missing = try dryRun(Self.dependent, on: server)
        #expect(missing.problems == [
            "monitor shop/db: depends_on names infra/router, which is neither in the files nor on the server",
            "monitor shop/web: depends_on names infra/router, which is neither in the files nor on the server",
        ])
        _ = try server.call("monitor.create", JSONObject([
            "namespace": .string("shop"), "name": .string("router"), "kind": .string("ping"), "target": .string("192.0.2.1"),
        ]))
        let local = Self.dependent.replacingOccurrences(of: "infra/router", with: "router")
        #expect(try dryRun(local, on: server).problems.isEmpty)
        #expect(try dryRun(local, on: server, prune: true).problems == [
            "monitor shop/db: depends_on names shop/router, which --prune would delete",
            "monitor shop/web: depends_on names shop/router, which --prune would delete",
        ])
        let unknownID = Self.dependent.replacingOccurrences(of: "[db, infra/router]", with: "[db, 99]")
            .replacingOccurrences(of: "depends_on: [infra/router]", with: "depends_on: []")
        #expect(try dryRun(unknownID, on: server).problems == ["monitor shop/web: depends_on names monitor 99, which does not exist"])
    }

    @Test("export then apply --dry-run shows no changes (round trip)")
    func exportRoundTrip() throws {
        let server = FakeControlPlane()
        _ = try server.call("monitor.create", JSONObject([
            "namespace": .string("infra"), "name": .string("router"), "kind": .string("ping"), "target": .string("192.0.2.1"),
        ]))
        _ = try apply(Self.dependent, to: server)
        _ = try apply(file, to: server)
        _ = try server.call("monitor.create", JSONObject([
            "namespace": .string("infra"), "name": .string("dns"), "kind": .string("dns"), "target": .string("example.com"),
            "interval_ms": .int(90_500), "upside_down": .bool(true), "description": .string("123"), "tags": .array([.string("true"), .string("")]),
            "config": .object(JSONObject(["record": .string("AAAA"), "expect": .array([.string("::1")])])),
        ]))
        // shop/api depends on a monitor exported after it: apply into an empty server must create that first.
        let zebra = try #require(try server.call("monitor.create", JSONObject([
            "namespace": .string("shop"), "name": .string("zebra"), "kind": .string("tcp"), "target": .string("z:1"),
        ])).objectValue?["id"])
        _ = try server.call("monitor.update", JSONObject(["id": server.monitor("shop", "api")!["id"]!, "depends_on": .array([zebra])]))
        let exported = Manifest.export(try server.allMonitors())
        #expect(exported.contains("interval: 30s"), "\(exported)")
        #expect(exported.contains("interval: 90500ms"), "\(exported)")
        #expect(!exported.contains("failure_threshold: 3"), "constant defaults are left out: \(exported)")
        #expect(!exported.contains("version"), "\(exported)")
        let manifest = try Manifest.parse(exported, source: "export")
        #expect(manifest.monitors.count == 6)
        #expect(manifest.monitors.first { $0.key.name == "web" }?.fields["depends_on"] == .array([.string("infra/router"), .string("shop/db")]), "by name: \(exported)")
        let plan = try ApplyRunner(client: server).plan(manifest, prune: true)
        #expect(!plan.hasChanges, "\(plan.diffLines)")
        #expect(plan.problems.isEmpty)
        // And into an empty server, the export re-creates the same monitors.
        let empty = FakeControlPlane()
        _ = try apply(exported, to: empty)
        #expect(Manifest.export(try empty.allMonitors()) == exported)
    }
}
