import Foundation
@testable import PinguinNotify
import PinguinWire
import Testing

/// What each channel kind makes of a notification, before any I/O.
@Suite("Preparing notifications per channel kind")
struct PreparedDeliveryTests {
    static let downPayload: JSONObject = {
        let text = """
            {"id":17,"version":1,"event":"down","at":"2026-12-02T10:00:30.000000Z","status":"down","previous_status":"pending",
             "message":"connection refused","monitor":{"id":4,"namespace":"shop","name":"checkout @everyone","kind":"http",
             "target":"https://shop.example/checkout","tags":["prod"]},"channel":{"id":2,"name":"ops"},
             "incident":{"id":9,"started_at":"2026-12-02T10:00:00.000000Z","ended_at":null,"duration_seconds":30,
                         "failed_checks":3,"first_message":"connection refused"}}
            """
        return try! JSONParser.parse(text).objectValue!
    }()

    static let upPayload: JSONObject = {
        var object = JSONObject()
        for (key, value) in zip(downPayload.keys, downPayload.values) {
            switch key {
            case "event": object.append(key, .string("up"))
            case "status": object.append(key, .string("up"))
            case "previous_status": object.append(key, .string("down"))
            case "message": object.append(key, .string("200 OK in 12 ms"))
            default: object.append(key, value)
            }
        }
        object.append("outage_seconds", .double(3725))
        return object
    }()

    private func http(_ kind: String, config: String, secrets: [String: String] = [:], payload: JSONObject = downPayload) throws -> HTTPDelivery {
        let prepared = try PreparedDelivery.prepare(
            kind: kind, config: try JSONParser.parse(config).objectValue!, secrets: secrets, payload: payload,
            now: Date(timeIntervalSince1970: 1_796_292_000))
        guard case .http(let request) = prepared else { Issue.record("\(kind) made \(prepared)"); throw CancellationError() }
        return request
    }

    private func body(_ request: HTTPDelivery) throws -> JSONObject {
        try JSONParser.parse(String(decoding: request.body, as: UTF8.self)).objectValue!
    }

    @Test("the words: down names the monitor, the first failure and its start; up the outage's length")
    func words() {
        let down = NotificationText(payload: Self.downPayload)
        #expect(down.title == "checkout @everyone is down")
        #expect(down.body == "connection refused\nFailing since 2026-12-02T10:00:00.000000Z.\nTarget: https://shop.example/checkout")
        let up = NotificationText(payload: Self.upPayload)
        #expect(up.title == "checkout @everyone is up")
        #expect(up.body.hasPrefix("Back after 1h 02m 05s of outage."))
        #expect(NotificationText.duration(42) == "42s")
        #expect(NotificationText.duration(190) == "3m 10s")
    }

    @Test("webhook: the payload as JSON, custom headers, the event and delivery id, and an HMAC over timestamp.body")
    func webhook() throws {
        let request = try http(
            "webhook", config: #"{"url":"http://127.0.0.1:9/hook","method":"PUT","headers":{"X-Team":"ops"},"hmac":true}"#,
            secrets: ["hmac_secret": "s3cret"])
        #expect(request.method == "PUT")
        #expect(request.url == "http://127.0.0.1:9/hook")
        #expect(request.headers.contains("X-Team: ops"))
        #expect(request.headers.contains("X-Pinguin-Event: down"))
        #expect(request.headers.contains("X-Pinguin-Delivery: 17"))
        #expect(request.headers.contains("X-Pinguin-Timestamp: 1796292000"))
        #expect(try body(request) == Self.downPayload)
        let signature = PreparedDelivery.signature(secret: "s3cret", timestamp: "1796292000", body: request.body)
        #expect(request.headers.contains("X-Pinguin-Signature: sha256=\(signature)"))
        #expect(signature.count == 64)
    }

    @Test("the signature is HMAC-SHA256 of timestamp.body, as openssl computes it")
    func hmacValue() {
        // printf 'what do ya want for nothing?.' | openssl dgst -sha256 -hmac Jefe
        #expect(PreparedDelivery.signature(secret: "Jefe", timestamp: "what do ya want for nothing?", body: [])
            == "38c6c848e5a2f57451f5095df6370d5c9b83175b99df46422b34960c28def6ae")
        #expect(PreparedDelivery.signature(secret: "Jefe", timestamp: "what do ya want for nothing?", body: [0x2e])
            != PreparedDelivery.signature(secret: "Jefe", timestamp: "what do ya want for nothing?", body: []))
    }

    @Test("webhook template: text and JSON placeholders, title and body, escapes and unknown paths")
    func template() throws {
        let request = try http("webhook", config: #"""
            {"url":"http://127.0.0.1:9/hook","headers":{"Content-Type":"text/plain"},
             "template":"{{title}} | {{json monitor.name}} | {{monitor.tags.0}} | {{incident.failed_checks}} | {{nope}} | {{{{x}}"}
            """#)
        #expect(String(decoding: request.body, as: UTF8.self) == #"checkout @everyone is down | "checkout @everyone" | prod | 3 |  | {{x}}"#)
        #expect(request.headers.contains("Content-Type: text/plain"))
        #expect(!request.headers.contains("Content-Type: application/json"))
    }

    @Test("Slack, Discord and Teams get their own message shapes; Discord never pings")
    func chats() throws {
        let slack = try body(try http("slack", config: "{}", secrets: ["webhook_url": "https://hooks.example/T/B/x"]))
        #expect(slack["text"]?.stringValue?.hasPrefix("*checkout @everyone is down*\nconnection refused") == true)
        let discordRequest = try http("discord", config: #"{"webhook_url":"https://discord.example/api/webhooks/1/x"}"#)
        #expect(discordRequest.url == "https://discord.example/api/webhooks/1/x")
        let discord = try body(discordRequest)
        #expect(discord["content"]?.stringValue?.hasPrefix("**checkout @everyone is down**") == true)
        #expect(discord["allowed_mentions"] == .object(JSONObject(["parse": .array([])])))
        let teams = try body(try http("teams", config: "{}", secrets: ["webhook_url": "https://teams.example/workflow"]))
        let card = teams["attachments"]?.arrayValue?.first?.objectValue?["content"]?.objectValue
        #expect(card?["type"] == .string("AdaptiveCard"))
        #expect(card?["body"]?.arrayValue?.first?.objectValue?["text"] == .string("checkout @everyone is down"))
    }

    @Test("Telegram: the bot token only in the URL path, the chat as given")
    func telegram() throws {
        let request = try http("telegram", config: #"{"chat_id":-1001234,"api_url":"http://127.0.0.1:9/tg/"}"#, secrets: ["bot_token": "123:ABC"])
        #expect(request.url == "http://127.0.0.1:9/tg/bot123:ABC/sendMessage")
        let message = try body(request)
        #expect(message["chat_id"]?.int64Value == -1001234)
        #expect(message["text"]?.stringValue?.hasPrefix("checkout @everyone is down\nconnection refused") == true)
        #expect(!String(decoding: request.body, as: UTF8.self).contains("123:ABC"))
    }

    @Test("ntfy and Gotify: title, message, priority by event, tokens in headers")
    func pushServices() throws {
        let ntfy = try http("ntfy", config: #"{"url":"http://127.0.0.1:9/","topic":"ops"}"#, secrets: ["token": "tk_1"])
        #expect(ntfy.url == "http://127.0.0.1:9")
        #expect(ntfy.headers.contains("Authorization: Bearer tk_1"))
        let ntfyBody = try body(ntfy)
        #expect(ntfyBody["topic"] == .string("ops"))
        #expect(ntfyBody["priority"]?.int64Value == 4)
        #expect(ntfyBody["tags"] == .array([.string("rotating_light")]))
        let gotify = try http("gotify", config: #"{"url":"http://127.0.0.1:9/g","priority":9}"#, secrets: ["token": "AbC"], payload: Self.upPayload)
        #expect(gotify.url == "http://127.0.0.1:9/g/message")
        #expect(gotify.headers.contains("X-Gotify-Key: AbC"))
        #expect(try body(gotify)["priority"]?.int64Value == 9)
        #expect(try body(gotify)["title"] == .string("checkout @everyone is up"))
    }

    @Test("PagerDuty: down triggers and up resolves under one dedup key per monitor; reminders are PagerDuty's own")
    func pagerDuty() throws {
        let trigger = try body(try http("pagerduty", config: #"{"events_url":"http://127.0.0.1:9/pd"}"#, secrets: ["routing_key": "R0UT1NG"]))
        #expect(trigger["event_action"] == .string("trigger"))
        #expect(trigger["dedup_key"] == .string("pinguin-monitor-4"))
        #expect(trigger["routing_key"] == .string("R0UT1NG"))
        let details = trigger["payload"]?.objectValue
        #expect(details?["severity"] == .string("critical"))
        #expect(details?["source"] == .string("https://shop.example/checkout"))
        #expect(details?["summary"]?.stringValue == "checkout @everyone is down: connection refused")
        let resolve = try body(try http("pagerduty", config: "{}", secrets: ["routing_key": "R0UT1NG"], payload: Self.upPayload))
        #expect(resolve["event_action"] == .string("resolve"))
        #expect(resolve["dedup_key"] == .string("pinguin-monitor-4"))
        #expect(resolve["payload"] == nil)
        var reminder = Self.downPayload
        reminder = JSONObject(pairs: zip(reminder.keys, reminder.values).map { ($0.0, $0.0 == "event" ? JSONValue.string("reminder") : $0.1) })
        let prepared = try PreparedDelivery.prepare(kind: "pagerduty", config: JSONObject(), secrets: ["routing_key": "R"], payload: reminder)
        guard case .nothing = prepared else { Issue.record("a reminder made \(prepared)"); return }
    }

    @Test("email: headers, an encoded subject for non-ASCII names, CRLF lines, bare addresses for the envelope")
    func email() throws {
        var payload = Self.downPayload
        payload = JSONObject(pairs: zip(payload.keys, payload.values).map { key, value in
            key == "monitor" ? (key, .object(JSONObject(["id": .int(4), "name": .string("Kasse ✓"), "target": .string("")]))) : (key, value)
        })
        let prepared = try PreparedDelivery.prepare(
            kind: "email",
            config: try JSONParser.parse(#"{"smtp_url":"smtp://127.0.0.1:2525","from":"Pinguin <pinguin@example.org>","to":["a@example.org","b@example.org"],"starttls":true}"#).objectValue!,
            secrets: ["username": "u", "password": "p"], payload: payload, now: Date(timeIntervalSince1970: 1_796_292_000))
        guard case .smtp(let message) = prepared else { Issue.record("email made \(prepared)"); return }
        #expect(message.from == "pinguin@example.org")
        #expect(message.recipients == ["a@example.org", "b@example.org"])
        #expect(message.requireTLS)
        #expect(message.username == "u" && message.password == "p")
        let text = String(decoding: message.message, as: UTF8.self)
        #expect(text.contains("To: a@example.org, b@example.org\r\n"))
        #expect(text.contains("Subject: =?UTF-8?B?\(Data("[Pinguin] Kasse ✓ is down".utf8).base64EncodedString())?=\r\n"))
        #expect(text.contains("Date: Thu, 03 Dec 2026 10:00:00 +0000\r\n"))
        #expect(text.contains("\r\n\r\nconnection refused\r\n"))
        #expect(!text.contains("\n\n"))
    }

    @Test("exec: the command as given, the payload as one JSON line on stdin, a clean environment")
    func exec() throws {
        let prepared = try PreparedDelivery.prepare(
            kind: "exec", config: try JSONParser.parse(#"{"command":["/usr/bin/logger","-t","pinguin"],"timeout_ms":2000}"#).objectValue!,
            secrets: [:], payload: Self.downPayload)
        guard case .exec(let command) = prepared else { Issue.record("exec made \(prepared)"); return }
        #expect(command.command == ["/usr/bin/logger", "-t", "pinguin"])
        #expect(command.timeoutMilliseconds == 2000)
        #expect(command.environment == ["PATH": "/usr/bin:/bin", "PINGUIN_EVENT": "down", "PINGUIN_MONITOR_ID": "4"])
        #expect(command.input.last == UInt8(ascii: "\n"))
        #expect(try JSONParser.parse(String(decoding: command.input.dropLast(), as: UTF8.self)).objectValue == Self.downPayload)
    }

    @Test("a secret a receiver echoes back is replaced in the error")
    func redaction() {
        let error = DeliveryError("the receiver answered HTTP 401: bad token 123:ABCdef", retryable: false).redacting(["123:ABCdef"])
        #expect(error.message == "the receiver answered HTTP 401: bad token [secret]")
    }
}
