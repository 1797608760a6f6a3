import Foundation
import PinguinControlPlane
import PinguinPostgres
import PinguinStore
import PinguinTestSupport
import PinguinWire
import Testing

/// Calls channel methods through the router, as the server does, against a migrated database of its own.
/// The harness, checking that no answer or error carries the test's secret.
private struct API {
    let harness: RouterHarness

    var client: PostgresClient { harness.client }

    /// The answer's object; its JSON text must not hold `secret`.
    func ok(_ method: String, _ params: String = "{}", secret: String = ChannelMethodsTests.secret) async throws -> JSONObject {
        switch try await harness.call(method, params) {
        case .success(let value):
            #expect(!JSONWriter.string(value).contains(secret), "\(method) echoed a secret")
            return try #require(value.objectValue)
        case .failure(let error): throw error
        }
    }

    func error(_ method: String, _ params: String) async throws -> JSONRPCError {
        let error = try await harness.error(method, params)
        #expect(!error.message.contains(ChannelMethodsTests.secret) && !(error.data.map(JSONWriter.string)?.contains(ChannelMethodsTests.secret) ?? false))
        return error
    }

    func monitor(_ name: String, tags: [String] = []) async throws -> Int64 {
        var draft = MonitorDraft(name: name, kind: "http", target: "https://example.test/\(name)")
        draft.tags = tags
        return try await MonitorStore(client: client).create(draft)
    }

    func count(_ sql: String) async throws -> Int {
        try await client.query(sql)[0].decode(Int.self, column: 0)
    }

    static func with<T: Sendable>(_ body: (API) async throws -> T) async throws -> T {
        try await RouterHarness.with(register: { router, client in
            ChannelMethods.register(into: &router, store: ChannelStore(client: client), actor: { "test-user" })
        }) { harness in
            try await body(API(harness: harness))
        }
    }
}

@Suite("channel.* methods", .enabled(if: TestServices.postgresEnabled, Comment(rawValue: TestServices.skipReason)), .timeLimit(.minutes(2)))
struct ChannelMethodsTests {
    static let secret = "123456789:AAHsekretSEKRETsekret_value-xyz"

    @Test("create, get, list, update and delete, each write audited, secrets never shown")
    func lifecycle() async throws {
        try await API.with { api in
            let monitor = try await api.monitor("web")
            let created = try await api.ok("channel.create", """
                {"name":"ops","kind":"telegram","config":{"chat_id":-1001234},"secrets":{"bot_token":"\(Self.secret)"},"monitor_ids":[\(monitor)]}
                """)
            let id = try #require(created["id"]?.int64Value)
            #expect(created["secrets"] == .array([.string("bot_token")]))
            #expect(created["monitor_ids"] == .array([.int(monitor)]))
            #expect(created["namespace"] == .string("default"))
            #expect(created["enabled"] == .bool(true))
            #expect(created["config"]?.objectValue?["chat_id"] == .number("-1001234"))
            let fetched = try await api.ok("channel.get", #"{"id":\#(id)}"#)
            #expect(fetched == created)
            // Stored for delivery, all the same.
            #expect(try await ChannelStore(client: api.client).secretsJSON(id: id)?.contains(Self.secret) == true)

            let updated = try await api.ok("channel.update", #"{"id":\#(id),"name":"ops-2","enabled":false,"monitor_ids":[]}"#)
            #expect(updated["name"] == .string("ops-2"))
            #expect(updated["enabled"] == .bool(false))
            #expect(updated["monitor_ids"] == .array([]))
            #expect(updated["secrets"] == .array([.string("bot_token")]))  // untouched by an update that does not name them
            #expect(try await api.count("SELECT count(*) FROM monitor_channels") == 0)
            let list = try await api.ok("channel.list")
            #expect(list["channels"]?.arrayValue?.count == 1)
            #expect(list["next"] == .null)

            #expect(try await api.ok("channel.delete", #"{"id":\#(id)}"#)["deleted"] == .bool(true))
            #expect(try await api.error("channel.get", #"{"id":\#(id)}"#).code == MonitorMethods.notFoundCode)
            #expect(try await api.error("channel.delete", #"{"id":\#(id)}"#).kind == "not_found")
            #expect(try await api.error("channel.update", #"{"id":\#(id),"name":"x"}"#).kind == "not_found")

            let audit = try await api.client.query("SELECT actor, action, subject_id, details::text FROM audit_log ORDER BY id")
            #expect(try audit.map { try $0.decode(String.self, column: 1) } == ["monitor.create", "channel.create", "channel.update", "channel.delete"])
            #expect(try audit.dropFirst().allSatisfy { try $0.decode(String.self, column: 0) == "test-user" && $0.decode(String.self, column: 2) == String(id) })
            #expect(try audit[2].decode(String.self, column: 3) == #"{"fields": ["name", "enabled", "monitor_ids"]}"#)
            let auditText = try await api.client.query("SELECT string_agg(audit_log::text, ' ') FROM audit_log")[0].decode(String.self, column: 0)
            #expect(!auditText.contains(Self.secret))
        }
    }

    @Test("secrets merge on update: a value replaces, null removes, and the result must still suit the kind")
    func secretsMerge() async throws {
        try await API.with { api in
            let created = try await api.ok("channel.create", """
                {"name":"hook","kind":"webhook","config":{"url":"https://hooks.example.test/in","hmac":true,"method":"PUT",
                 "headers":{"X-Team":"ops"},"template":"{{monitor.name}}"},"secrets":{"hmac_secret":"\(Self.secret)"}}
                """)
            let id = try #require(created["id"]?.int64Value)
            #expect(created["secrets"] == .array([.string("hmac_secret")]))
            // hmac is still on: its secret cannot go.
            let needed = try await api.error("channel.update", #"{"id":\#(id),"secrets":{"hmac_secret":null}}"#)
            #expect(needed.data?.objectValue?["field"] == .string("secrets.hmac_secret"))
            let off = try await api.ok("channel.update", #"{"id":\#(id),"config":{"url":"https://hooks.example.test/in"},"secrets":{"hmac_secret":null}}"#)
            #expect(off["secrets"] == .array([]))
            #expect(off["config"] == .object(JSONObject(["url": .string("https://hooks.example.test/in")])))
            let again = try await api.ok("channel.update", #"{"id":\#(id),"secrets":{"hmac_secret":"\#(Self.secret)"}}"#)
            #expect(again["secrets"] == .array([.string("hmac_secret")]))
            // An update's secrets are checked against the kind too.
            let unknown = try await api.error("channel.update", #"{"id":\#(id),"secrets":{"routing_key":"\#(Self.secret)"}}"#)
            #expect(unknown.data?.objectValue?["field"] == .string("secrets.routing_key"))
            let badConfig = try await api.error("channel.update", #"{"id":\#(id),"config":{"url":"ftp://x.test/"}}"#)
            #expect(badConfig.data?.objectValue?["field"] == .string("config.url"))

            // A chat webhook moves from config to secrets.
            let slack = try await api.ok("channel.create", #"{"name":"chat","kind":"slack","config":{"webhook_url":"https://hooks.slack.test/T0/B0/x"}}"#)
            let slackID = try #require(slack["id"]?.int64Value)
            #expect(slack["secrets"] == .array([]))
            let moved = try await api.ok("channel.update", #"{"id":\#(slackID),"config":{},"secrets":{"webhook_url":"https://hooks.slack.test/\#(Self.secret)"}}"#)
            #expect(moved["secrets"] == .array([.string("webhook_url")]))
            #expect(moved["config"] == .object(JSONObject()))

            let audit = try await api.client.query("SELECT details::text FROM audit_log WHERE action = 'channel.update' ORDER BY id")
            #expect(try audit.map { try $0.decode(String.self, column: 0) } == [
                #"{"fields": ["config", "secrets"]}"#, #"{"fields": ["secrets"]}"#, #"{"fields": ["config", "secrets"]}"#,
            ])
            let auditText = try await api.client.query("SELECT string_agg(audit_log::text, ' ') FROM audit_log")[0].decode(String.self, column: 0)
            #expect(!auditText.contains(Self.secret))
        }
    }

    @Test("monitor links: unknown monitors are refused naming monitor_ids, updates replace the set, deleting a monitor unlinks it")
    func monitorLinks() async throws {
        try await API.with { api in
            let a = try await api.monitor("a")
            let b = try await api.monitor("b")
            let unknown = try await api.error("channel.create", #"{"name":"x","kind":"pagerduty","secrets":{"routing_key":"k"},"monitor_ids":[\#(a),99999]}"#)
            #expect(unknown.code == JSONRPCError.invalidParamsCode)
            #expect(unknown.data?.objectValue?["field"] == .string("monitor_ids"))
            #expect(unknown.message.contains("99999"))
            #expect(try await api.count("SELECT count(*) FROM notification_channels") == 0)

            let created = try await api.ok("channel.create", #"{"name":"x","kind":"pagerduty","secrets":{"routing_key":"k"},"monitor_ids":[\#(b),\#(a),\#(a)]}"#)
            let id = try #require(created["id"]?.int64Value)
            #expect(created["monitor_ids"] == .array([.int(a), .int(b)]))
            let replaced = try await api.ok("channel.update", #"{"id":\#(id),"monitor_ids":[\#(b)]}"#)
            #expect(replaced["monitor_ids"] == .array([.int(b)]))
            let refused = try await api.error("channel.update", #"{"id":\#(id),"monitor_ids":[\#(a),424242]}"#)
            #expect(refused.data?.objectValue?["field"] == .string("monitor_ids"))
            #expect(try await api.ok("channel.get", #"{"id":\#(id)}"#)["monitor_ids"] == .array([.int(b)]))
            try await MonitorStore(client: api.client).delete(id: b)
            #expect(try await api.ok("channel.get", #"{"id":\#(id)}"#)["monitor_ids"] == .array([]))
        }
    }

    @Test("names are unique per namespace; lists filter and page")
    func listAndConflict() async throws {
        try await API.with { api in
            for (index, kind) in ["gotify", "gotify", "pagerduty", "gotify", "exec"].enumerated() {
                let config = switch kind {
                case "gotify": #"{"url":"https://gotify.example.test"}"#
                case "exec": #"{"command":["/usr/local/bin/notify","--all"],"timeout_ms":5000}"#
                default: #"{"severity":"warning"}"#
                }
                let secrets = switch kind {
                case "gotify": #"{"token":"t"}"#
                case "pagerduty": #"{"routing_key":"r"}"#
                default: "{}"
                }
                let namespace = index == 3 ? "lab" : "default"
                _ = try await api.ok("channel.create", #"{"name":"c\#(index)","kind":"\#(kind)","namespace":"\#(namespace)","config":\#(config),"secrets":\#(secrets)}"#)
            }
            let conflict = try await api.error("channel.create", #"{"name":"c0","kind":"exec","config":{"command":["/bin/true"]}}"#)
            #expect(conflict.code == MonitorMethods.conflictCode)
            #expect(conflict.data?.objectValue?["field"] == .string("name"))
            _ = try await api.ok("channel.create", #"{"name":"c0","kind":"exec","namespace":"lab","config":{"command":["/bin/true"]}}"#)
            let renamed = try await api.error("channel.update", #"{"id":2,"name":"c0"}"#)
            #expect(renamed.kind == "conflict")

            #expect(try await api.ok("channel.list", #"{"kind":"gotify"}"#)["channels"]?.arrayValue?.count == 3)
            #expect(try await api.ok("channel.list", #"{"kind":"gotify","namespace":"default"}"#)["channels"]?.arrayValue?.count == 2)
            var names: [String] = []
            var after = "0"
            var pages = 0
            while true {
                let page = try await api.ok("channel.list", #"{"limit":2,"after":\#(after)}"#)
                names += (page["channels"]?.arrayValue ?? []).compactMap { $0.objectValue?["name"]?.stringValue }
                pages += 1
                guard case .number(let next) = page["next"] else { break }
                after = next
            }
            #expect(names == ["c0", "c1", "c2", "c3", "c4", "c0"])
            #expect(pages == 4)  // the last full page cannot know it is the last
            #expect(try await api.error("channel.list", #"{"limit":0}"#).data?.objectValue?["field"] == .string("limit"))
            #expect(try await api.error("channel.list", #"{"colour":"red"}"#).data?.objectValue?["field"] == .string("colour"))
            #expect(try await api.error("channel.update", #"{"id":1}"#).data?.objectValue?["field"] == .string("params"))
            #expect(try await api.error("channel.update", #"{"id":1,"kind":"exec"}"#).data?.objectValue?["field"] == .string("kind"))
        }
    }

    @Test("bad input is refused with an error naming the field, no secret is quoted, and nothing is stored")
    func validation() async throws {
        let s = Self.secret
        let cases: [(String, String)] = [
            (#"{"kind":"webhook","config":{"url":"https://x.test"}}"#, "name"),
            (#"{"name":"","kind":"exec","config":{"command":["/bin/true"]}}"#, "name"),
            (#"{"name":"a","kind":"carrier-pigeon"}"#, "kind"),
            (#"{"name":"a","kind":"webhook","config":[1]}"#, "config"),
            (#"{"name":"a","kind":"exec","config":{"command":["/bin/true"]},"colour":"blue"}"#, "colour"),
            (#"{"name":"a","kind":"exec","config":{"command":["/bin/true"]},"namespace":"Bad Space"}"#, "namespace"),
            (#"{"name":"a","kind":"exec","config":{"command":["/bin/true"]},"enabled":"yes"}"#, "enabled"),
            (#"{"name":"a","kind":"exec","config":{"command":["/bin/true"]},"monitor_ids":[424242]}"#, "monitor_ids"),
            (#"{"name":"a","kind":"exec","config":{"command":["/bin/true"]},"monitor_ids":["1"]}"#, "monitor_ids[0]"),
            (#"{"name":"a","kind":"gotify","config":{"url":"https://g.test"},"secrets":"\#(s)"}"#, "secrets"),
            (#"{"name":"a","kind":"gotify","config":{"url":"https://g.test"},"secrets":{"token":7}}"#, "secrets.token"),
            (#"{"name":"a","kind":"gotify","config":{"url":"https://g.test"},"secrets":{"token":""}}"#, "secrets.token"),
            // webhook
            (#"{"name":"a","kind":"webhook"}"#, "config.url"),
            (#"{"name":"a","kind":"webhook","config":{"url":"ftp://x.test/\#(s)"}}"#, "config.url"),
            (#"{"name":"a","kind":"webhook","config":{"url":"https://"}}"#, "config.url"),
            (#"{"name":"a","kind":"webhook","config":{"url":"https://x.test","method":"GET"}}"#, "config.method"),
            (#"{"name":"a","kind":"webhook","config":{"url":"https://x.test","headers":["a"]}}"#, "config.headers"),
            (#"{"name":"a","kind":"webhook","config":{"url":"https://x.test","headers":{"X-A":"1\r\nX-B: 2"}}}"#, "config.headers.X-A"),
            (#"{"name":"a","kind":"webhook","config":{"url":"https://x.test","headers":{"Bad Name":"1"}}}"#, "config.headers.Bad Name"),
            (#"{"name":"a","kind":"webhook","config":{"url":"https://x.test","template":5}}"#, "config.template"),
            (#"{"name":"a","kind":"webhook","config":{"url":"https://x.test","hmac":"yes"}}"#, "config.hmac"),
            (#"{"name":"a","kind":"webhook","config":{"url":"https://x.test","hmac":true}}"#, "secrets.hmac_secret"),
            (#"{"name":"a","kind":"webhook","config":{"url":"https://x.test","colour":"red"}}"#, "config.colour"),
            (#"{"name":"a","kind":"webhook","config":{"url":"https://x.test"},"secrets":{"token":"\#(s)"}}"#, "secrets.token"),
            // slack, discord, teams
            (#"{"name":"a","kind":"slack"}"#, "secrets.webhook_url"),
            (#"{"name":"a","kind":"discord","secrets":{"webhook_url":"http://discord.test/\#(s)"}}"#, "secrets.webhook_url"),
            (#"{"name":"a","kind":"teams","config":{"webhook_url":"http://teams.test/x"}}"#, "config.webhook_url"),
            (#"{"name":"a","kind":"slack","config":{"webhook_url":"https://s.test/a"},"secrets":{"webhook_url":"https://s.test/\#(s)"}}"#, "config.webhook_url"),
            (#"{"name":"a","kind":"slack","config":{"channel":"ops-room"},"secrets":{"webhook_url":"https://s.test/\#(s)"}}"#, "config.channel"),
            // telegram
            (#"{"name":"a","kind":"telegram","secrets":{"bot_token":"\#(s)"}}"#, "config.chat_id"),
            (#"{"name":"a","kind":"telegram","config":{"chat_id":true},"secrets":{"bot_token":"\#(s)"}}"#, "config.chat_id"),
            (#"{"name":"a","kind":"telegram","config":{"chat_id":"ops"},"secrets":{"bot_token":"\#(s)"}}"#, "config.chat_id"),
            (#"{"name":"a","kind":"telegram","config":{"chat_id":"@ops"}}"#, "secrets.bot_token"),
            (#"{"name":"a","kind":"telegram","config":{"chat_id":"@ops"},"secrets":{"bot_token":"no colon \#(s.replacingOccurrences(of: ":", with: ""))"}}"#, "secrets.bot_token"),
            // ntfy
            (#"{"name":"a","kind":"ntfy","config":{"topic":"alerts"}}"#, "config.url"),
            (#"{"name":"a","kind":"ntfy","config":{"url":"https://ntfy.test"}}"#, "config.topic"),
            (#"{"name":"a","kind":"ntfy","config":{"url":"https://ntfy.test","topic":"a/b"}}"#, "config.topic"),
            (#"{"name":"a","kind":"ntfy","config":{"url":"https://ntfy.test","topic":"a","priority":6}}"#, "config.priority"),
            (#"{"name":"a","kind":"ntfy","config":{"url":"https://ntfy.test","topic":"a","priority":2.5}}"#, "config.priority"),
            // gotify
            (#"{"name":"a","kind":"gotify","config":{"url":"https://g.test"}}"#, "secrets.token"),
            (#"{"name":"a","kind":"gotify","config":{"url":"https://g.test","priority":11},"secrets":{"token":"t"}}"#, "config.priority"),
            // pagerduty
            (#"{"name":"a","kind":"pagerduty"}"#, "secrets.routing_key"),
            (#"{"name":"a","kind":"pagerduty","config":{"severity":"meh"},"secrets":{"routing_key":"\#(s)"}}"#, "config.severity"),
            // email
            (#"{"name":"a","kind":"email","config":{"smtp_url":"https://mail.test","from":"a@b.test","to":["c@d.test"]}}"#, "config.smtp_url"),
            (#"{"name":"a","kind":"email","config":{"smtp_url":"smtp://mail.test","to":["c@d.test"]}}"#, "config.from"),
            (#"{"name":"a","kind":"email","config":{"smtp_url":"smtp://mail.test","from":"nobody","to":["c@d.test"]}}"#, "config.from"),
            (#"{"name":"a","kind":"email","config":{"smtp_url":"smtp://mail.test","from":"a@b.test","to":[]}}"#, "config.to"),
            (#"{"name":"a","kind":"email","config":{"smtp_url":"smtp://mail.test","from":"a@b.test"}}"#, "config.to"),
            (#"{"name":"a","kind":"email","config":{"smtp_url":"smtp://mail.test","from":"a@b.test","to":["c@d.test","x"]}}"#, "config.to[1]"),
            (#"{"name":"a","kind":"email","config":{"smtp_url":"smtps://mail.test","from":"a@b.test","to":["c@d.test"],"starttls":true}}"#, "config.starttls"),
            (#"{"name":"a","kind":"email","config":{"smtp_url":"smtp://mail.test","from":"a@b.test","to":["c@d.test"]},"secrets":{"api_key":"\#(s)"}}"#, "secrets.api_key"),
            // exec
            (#"{"name":"a","kind":"exec"}"#, "config.command"),
            (#"{"name":"a","kind":"exec","config":{"command":[]}}"#, "config.command"),
            (#"{"name":"a","kind":"exec","config":{"command":"/bin/true"}}"#, "config.command"),
            (#"{"name":"a","kind":"exec","config":{"command":["notify.sh"]}}"#, "config.command[0]"),
            (#"{"name":"a","kind":"exec","config":{"command":["/bin/echo",1]}}"#, "config.command[1]"),
            (#"{"name":"a","kind":"exec","config":{"command":["/bin/true"],"timeout_ms":50}}"#, "config.timeout_ms"),
            (#"{"name":"a","kind":"exec","config":{"command":["/bin/true"]},"secrets":{"env":"\#(s)"}}"#, "secrets.env"),
        ]
        try await API.with { api in
            for (params, field) in cases {
                let error = try await api.error("channel.create", params)
                #expect(error.code == JSONRPCError.invalidParamsCode, "\(params): \(error)")
                #expect(error.data?.objectValue?["field"] == .string(field), "\(params): \(error)")
            }
            #expect(try await api.count("SELECT count(*) FROM notification_channels") == 0)
            #expect(try await api.count("SELECT count(*) FROM audit_log") == 0)
            // And every kind has a configuration that is accepted.
            let good = [
                #"{"kind":"webhook","config":{"url":"http://127.0.0.1:8080/hook","method":"POST","hmac":false}}"#,
                #"{"kind":"discord","secrets":{"webhook_url":"https://discord.test/api/webhooks/1/x"}}"#,
                #"{"kind":"teams","config":{"webhook_url":"https://teams.test/x"}}"#,
                #"{"kind":"telegram","config":{"chat_id":"-100123"},"secrets":{"bot_token":"1:abc"}}"#,
                #"{"kind":"ntfy","config":{"url":"https://ntfy.sh","topic":"pinguin-alerts","priority":5},"secrets":{"token":"tk"}}"#,
                #"{"kind":"email","config":{"smtp_url":"smtp://mail.test:587","from":"Pinguin <pinguin@example.test>","to":["ops@example.test"],"starttls":true},"secrets":{"username":"u","password":"p"}}"#,
            ]
            for (index, params) in good.enumerated() {
                _ = try await api.ok("channel.create", "{\"name\":\"good\(index)\"," + params.dropFirst())
            }
        }
    }
}
