import PinguinWire
import PinguinctlKit
import Testing

@Suite("Apply files")
struct ManifestTests {
    @Test("a monitors: list with a namespace, durations in both spellings")
    func list() throws {
        let manifest = try Manifest.parse("""
        namespace: shop
        monitors:
          - name: web
            kind: http
            target: https://shop.example.com/health
            interval: 30s
            timeout_ms: 5000
            tags: [frontend, public]
            config:
              expected_status: 200
          - name: db
            namespace: infra
            kind: tcp
            target: db.internal:5432
            paused: true
        """, source: "monitors.yaml")
        #expect(manifest.monitors.count == 2)
        #expect(manifest.namespaces == ["shop", "infra"])
        let web = manifest.monitors[0]
        #expect(web.key == MonitorKey(namespace: "shop", name: "web"))
        #expect(web.fields["interval_ms"] == .int(30_000))
        #expect(web.fields["timeout_ms"] == .int(5000))
        #expect(web.fields["config"]?.objectValue?["expected_status"] == .int(200))
        #expect(web.paused == nil)
        #expect(manifest.monitors[1].key.namespace == "infra")
        #expect(manifest.monitors[1].paused == true)
    }

    @Test("several documents, each a monitor, in the default namespace")
    func documents() throws {
        let manifest = try Manifest.parse("""
        name: a
        kind: ping
        target: 192.0.2.1
        ---
        ---
        name: b
        kind: dns
        target: example.com
        description: "123"
        """, source: "f.yaml")
        #expect(manifest.monitors.map(\.key.description) == ["default/a", "default/b"])
        #expect(manifest.monitors[1].fields["description"] == .string("123"))
    }

    @Test("errors name the file, line, document and field", arguments: [
        ("name: a\nkind: http\ntarget: x\n---\nname: b\nkind: http\ntarget: x\ninterval: 30x\n",
         #"f.yaml:8: document 2: interval: "30x" is not a duration"#),
        ("monitors:\n  - name: a\n    kind: http\n    target: x\n    intervall: 30s\n",
         "f.yaml:5: monitors[0].intervall: unknown field"),
        ("monitors:\n  - name: a\n    kind: http\n", "f.yaml:2: monitors[0].target: missing"),
        ("monitors:\n  - name: a\n    kind: http\n    target: x\n    interval: 30s\n    interval_ms: 30000\n",
         "monitors[0].interval_ms: given twice (also as interval)"),
        ("monitors:\n  - name: a\n    kind: http\n    target: x\n    interval: 10s\n    timeout: 20s\n",
         "monitors[0].timeout: must be at most the interval"),
        ("monitors:\n  - name: a\n    kind: http\n    target: x\n    interval: 500ms\n",
         "monitors[0].interval: must be between 1s and 1d"),
        ("monitors:\n  - name: a\n    kind: HTTP\n    target: x\n", "monitors[0].kind: must be a checker kind"),
        ("monitors:\n  - {name: a, kind: http, target: x}\n  - {name: a, kind: tcp, target: y}\n", "monitor default/a is declared twice"),
        ("namespace: Bad Name\nmonitors: []\n", "f.yaml:1: namespace: must be lower-case"),
        ("channels: []\nmonitors: []\n", "channels: apply manages monitors only so far"),
        ("monitors: [\n", "f.yaml: invalid YAML: line"),
        ("- 1\n- 2\n", "f.yaml:1: [0]: a monitor must be a mapping"),
        ("monitors:\n  - name: a\n    kind: http\n    target: x\n    tags: [1, [2]]\n", "monitors[0].tags: must be a list of strings"),
        ("monitors:\n  - name: a\n    kind: http\n    target: x\n    depends_on: [b, 0]\n", "monitors[0].depends_on: must be a list of monitors"),
        ("namespace: shop\nmonitors:\n  - name: a\n    kind: http\n    target: x\n    depends_on: [b, shop/a]\n",
         "f.yaml:6: monitors[0].depends_on: a monitor cannot depend on itself"),
        ("monitors:\n  - {name: a, kind: http, target: x, depends_on: [b]}\n  - {name: b, kind: http, target: x, depends_on: [c]}\n"
            + "  - {name: c, kind: http, target: x, depends_on: [a]}\n",
         "f.yaml: depends_on makes a cycle: default/a -> default/b -> default/c -> default/a"),
    ])
    func errors(_ text: String, _ expected: String) {
        do {
            _ = try Manifest.parse(text, source: "f.yaml")
            Issue.record("expected an error containing \(expected)")
        } catch {
            #expect(error.code == .usage)
            #expect(error.message.contains(expected), "\(error.message)")
        }
    }

    @Test("a monitor declared in two files is an error naming both")
    func duplicateAcrossFiles() throws {
        let a = try Manifest.parse("name: web\nkind: http\ntarget: x\n", source: "a.yaml")
        let b = try Manifest.parse("name: web\nkind: http\ntarget: y\n", source: "b.yaml")
        #expect(throws: CLIFailure.self) { try Manifest.combine([("a.yaml", a), ("b.yaml", b)]) }
        do {
            _ = try Manifest.combine([("a.yaml", a), ("b.yaml", b)])
        } catch {
            #expect(error.message == "b.yaml: monitor default/web is already declared in a.yaml")
        }
    }

    @Test("depends_on names resolve in the monitor's namespace (after the whole mapping is read); ids pass; duplicates collapse")
    func dependsOn() throws {
        let manifest = try Manifest.parse("""
        monitors:
          - name: web
            depends_on: [db, infra/router, 7, db, shop/db]
            namespace: shop
            kind: http
            target: x
        """, source: "f.yaml")
        let web = manifest.monitors[0]
        #expect(web.fields["depends_on"] == .array([.string("shop/db"), .string("infra/router"), .int(7)]))
        #expect(web.dependsOn == [MonitorKey(namespace: "shop", name: "db"), MonitorKey(namespace: "infra", name: "router")])
        // Written back relative to the monitor's namespace.
        #expect(web.document["depends_on"] == .array([.string("db"), .string("infra/router"), .int(7)]))
    }

    @Test("a dependency cycle across files is an error naming them")
    func cycleAcrossFiles() throws {
        let a = try Manifest.parse("name: web\nkind: http\ntarget: x\ndepends_on: [db]\n", source: "a.yaml")
        let b = try Manifest.parse("name: db\nkind: tcp\ntarget: y:1\ndepends_on: [web]\n", source: "b.yaml")
        do {
            _ = try Manifest.combine([("a.yaml", a), ("b.yaml", b)])
            Issue.record("expected a cycle error")
        } catch {
            #expect(error.code == .usage)
            #expect(error.message == "a.yaml, b.yaml: depends_on makes a cycle: default/web -> default/db -> default/web")
        }
    }

    @Test("read-only members of get -o yaml output are ignored")
    func readOnly() throws {
        let manifest = try Manifest.parse("""
        id: 7
        version: 3
        name: web
        kind: http
        target: https://example.com
        status: {state: up}
        created_at: 2025-06-01T00:00:00Z
        """, source: "get.yaml")
        #expect(manifest.monitors[0].fields.keys == ["target"])
    }
}

@Suite("YAML values")
struct YAMLBridgeTests {
    @Test("strings that read as other types are quoted; values round-trip")
    func roundTrip() throws {
        let value = try JSONParser.parse(#"{"a":"123","b":123,"c":"true","d":true,"e":null,"f":"","g":[],"h":{},"i":"x: y","j":1.5,"k":"line1\nline2","l":["p","q"]}"#)
        let text = YAMLBridge.string(value)
        let back = try YAMLBridge.parse(text)
        #expect(back.isSemanticallyEqual(to: value), "\(text)")
        #expect(text.contains(#"a: '123'"#) || text.contains(#"a: "123""#), "\(text)")
    }

    @Test("semantic equality ignores member order and number spelling")
    func equality() throws {
        let a = try JSONParser.parse(#"{"x":1,"y":[1,2]}"#)
        let b = try JSONParser.parse(#"{"y":[1,2.0],"x":1.0}"#)
        #expect(a.isSemanticallyEqual(to: b))
        #expect(!a.isSemanticallyEqual(to: try JSONParser.parse(#"{"x":1,"y":[2,1]}"#)))
    }
}
