import Foundation
import PinguinControlPlane
import PinguinPostgres
import PinguinStore
import PinguinTestSupport
import PinguinWire
import Testing

/// `channel.test` against a real receiver and a closed port, the common channel options, and
/// `notification.list`.
@Suite("channel.test and notification.list", .enabled(if: TestServices.postgresEnabled, Comment(rawValue: TestServices.skipReason)), .timeLimit(.minutes(2)))
struct ChannelTestMethodTests {
    static let token = "987654321:AAHtestTOKENthatMustNotLeak_42"

    private static func with<T: Sendable>(_ body: (RouterHarness) async throws -> T) async throws -> T {
        try await RouterHarness.with(register: { router, client in
            ChannelMethods.register(into: &router, store: ChannelStore(client: client), actor: { "test-user" })
            NotificationMethods.register(into: &router, store: OutboxStore(client: client))
        }, body)
    }

    @Test("a test notification is sent now: delivered with the receiver's status, or an error saying why, never holding the token")
    func testSend() async throws {
        let receiver = try await NotifyReceiver.http()
        defer { receiver.stopInBackground() }
        try await Self.with { harness in
            let good = try await harness.ok("channel.create", """
                {"name":"tg","kind":"telegram","config":{"chat_id":42,"api_url":"\(receiver.url("/tg"))"},"secrets":{"bot_token":"\(Self.token)"}}
                """)
            let id = try #require(good["id"]?.int64Value)
            let delivered = try await harness.ok("channel.test", #"{"id":\#(id),"message":"ping from the test"}"#)
            #expect(delivered["delivered"] == .bool(true) && delivered["code"]?.int64Value == 200 && delivered["id"]?.int64Value == id)
            let sent = receiver.bodies(at: "/tg/bot\(Self.token)/sendMessage")
            #expect(sent.count == 1)
            #expect(sent.first?["chat_id"]?.int64Value == 42)
            #expect(sent.first?["text"] == .string("Test notification from Pinguin\nping from the test"))

            let missing = try await harness.ok("channel.create", """
                {"name":"tg-404","kind":"telegram","config":{"chat_id":42,"api_url":"\(receiver.url("/status/404/tg"))"},"secrets":{"bot_token":"\(Self.token)"}}
                """)
            let refused = try await harness.error("channel.test", #"{"id":\#(missing["id"]!.int64Value!)}"#)
            #expect(refused.code == ChannelMethods.deliveryFailedCode && refused.kind == "delivery_failed")
            #expect(refused.message == "the test notification was not delivered: the receiver answered HTTP 404: status 404")
            #expect(refused.data?.objectValue?["retryable"] == .bool(false))

            // Nothing listens on port 1: a transport error, worth retrying.
            let closed = try await harness.ok("channel.create", """
                {"name":"tg-closed","kind":"telegram","config":{"chat_id":42,"api_url":"http://127.0.0.1:1"},"secrets":{"bot_token":"\(Self.token)"}}
                """)
            let unreachable = try await harness.error("channel.test", #"{"id":\#(closed["id"]!.int64Value!)}"#)
            #expect(unreachable.message.hasPrefix("the test notification was not delivered: the request failed: "), "\(unreachable.message)")
            #expect(unreachable.data?.objectValue?["retryable"] == .bool(true))
            for error in [refused, unreachable] {
                #expect(error.message.contains(Self.token) == false)
                #expect((error.data.map(JSONWriter.string) ?? "").contains(Self.token) == false)
            }
            #expect(try await harness.error("channel.test", #"{"id":999999}"#).kind == "not_found")
            #expect(try await harness.error("channel.test", #"{"id":\#(id),"colour":"red"}"#).data?.objectValue?["field"] == .string("colour"))
            // A test goes around the outbox.
            #expect(try await harness.client.query("SELECT count(*) FROM notification_outbox")[0].decode(Int.self, column: 0) == 0)
        }
    }

    @Test("every kind takes events, reminder_interval_ms and certificate_expiry_days, checked by name and range")
    func commonOptions() async throws {
        try await Self.with { harness in
            let ok = try await harness.ok("channel.create", """
                {"name":"pd","kind":"pagerduty","config":{"events":["down","up"],"reminder_interval_ms":1800000},"secrets":{"routing_key":"r"}}
                """)
            #expect(ok["config"]?.objectValue?["events"] == .array([.string("down"), .string("up")]))
            let cases: [(String, String)] = [
                (#"{"events":["down","sideways"]}"#, "config.events[1]"),
                (#"{"events":["down","down"]}"#, "config.events[1]"),
                (#"{"events":[]}"#, "config.events"),
                (#"{"reminder_interval_ms":1000}"#, "config.reminder_interval_ms"),
                (#"{"events_url":"ftp://pd.example/"}"#, "config.events_url"),
                (#"{"certificate_expiry_days":[7,7]}"#, "config.certificate_expiry_days[1]"),
                (#"{"certificate_expiry_days":[]}"#, "config.certificate_expiry_days"),
                (#"{"certificate_expiry_days":[-1]}"#, "config.certificate_expiry_days[0]"),
            ]
            for (config, field) in cases {
                let error = try await harness.error("channel.create", #"{"name":"x","kind":"pagerduty","config":\#(config),"secrets":{"routing_key":"r"}}"#)
                #expect(error.data?.objectValue?["field"] == .string(field), "\(config): \(error.message)")
            }
            let slow = try await harness.error("channel.create", #"{"name":"x","kind":"exec","config":{"command":["/bin/true"],"timeout_ms":120000}}"#)
            #expect(slow.data?.objectValue?["field"] == .string("config.timeout_ms"))
            let caFile = try await harness.error("channel.create", #"{"name":"x","kind":"email","config":{"smtp_url":"smtp://127.0.0.1:25","from":"a@example.org","to":["b@example.org"],"ca_file":"ca.pem"}}"#)
            #expect(caFile.data?.objectValue?["field"] == .string("config.ca_file"))
        }
    }

    @Test("notification.list filters by channel, state and event, newest first, a page at a time")
    func list() async throws {
        try await Self.with { harness in
            let channel = try await harness.ok("channel.create", #"{"name":"x","kind":"exec","config":{"command":["/bin/true"]}}"#)
            let id = try #require(channel["id"]?.int64Value)
            for index in 0..<3 {
                _ = try await harness.client.query(
                    "INSERT INTO notification_outbox (channel_id, event, dedupe_key, payload) VALUES ($1, 'test', $2, $3::jsonb)",
                    [id, "test:\(index)", #"{"version":1,"event":"test","message":"n\#(index)"}"#])
            }
            _ = try await harness.client.query("UPDATE notification_outbox SET state = 'failed', last_error = 'no' WHERE dedupe_key = 'test:1'")
            let all = try await harness.ok("notification.list", #"{"channel_id":\#(id),"limit":2}"#)
            let first = all["notifications"]?.arrayValue?.compactMap { $0.objectValue?["payload"]?.objectValue?["message"]?.stringValue }
            #expect(first == ["n2", "n1"])
            let next = try #require(all["next"]?.int64Value)
            let rest = try await harness.ok("notification.list", #"{"channel_id":\#(id),"before":\#(next)}"#)
            #expect(rest["notifications"]?.arrayValue?.count == 1 && rest["next"] == .null)
            let failed = try await harness.ok("notification.list", #"{"state":"failed","event":"test"}"#)
            let row = failed["notifications"]?.arrayValue?.first?.objectValue
            #expect(failed["notifications"]?.arrayValue?.count == 1 && row?["last_error"] == .string("no") && row?["attempts"]?.int64Value == 0)
            #expect(try await harness.error("notification.list", #"{"state":"lost"}"#).data?.objectValue?["field"] == .string("state"))
            #expect(try await harness.error("notification.list", #"{"event":"party"}"#).data?.objectValue?["field"] == .string("event"))
        }
    }
}
