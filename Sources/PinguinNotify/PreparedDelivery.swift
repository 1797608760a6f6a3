import Crypto
public import Foundation
import PinguinModel
public import PinguinWire

/// An HTTP request to a receiver.
public struct HTTPDelivery: Sendable, Hashable {
    public var url: String
    public var method: String
    public var headers: [String]
    public var body: [UInt8]
    public var timeoutMilliseconds: Int
}

/// One email over SMTP.
public struct SMTPDelivery: Sendable, Hashable {
    public var url: String
    public var from: String
    public var recipients: [String]
    public var message: [UInt8]
    public var username: String?
    public var password: String?
    /// STARTTLS required (smtp://) — smtps:// is TLS from the first byte anyway.
    public var requireTLS: Bool
    public var verifyTLS: Bool
    public var caFile: String?
    public var timeoutMilliseconds: Int
}

/// A program run with the payload on its standard input.
public struct ExecDelivery: Sendable, Hashable {
    public var command: [String]
    public var input: [UInt8]
    public var environment: [String: String]
    public var timeoutMilliseconds: Int
}

/// What sending one notification through one channel means, decided without any I/O from the
/// channel's kind, config, secrets and the payload (proto-docs/notifications.md).
public enum PreparedDelivery: Sendable, Hashable {
    case http(HTTPDelivery)
    case smtp(SMTPDelivery)
    case exec(ExecDelivery)
    /// Nothing to send for this event on this kind (PagerDuty keeps its own reminders): settled as delivered.
    case nothing(reason: String)

    /// Milliseconds a delivery may take at most.
    public var timeoutMilliseconds: Int {
        switch self {
        case .http(let request): request.timeoutMilliseconds
        case .smtp(let message): message.timeoutMilliseconds
        case .exec(let command): command.timeoutMilliseconds
        case .nothing: 0
        }
    }

    public static let httpTimeoutMilliseconds = 10_000
    public static let smtpTimeoutMilliseconds = 30_000
    public static let execTimeoutMilliseconds = 10_000

    /// Prepares `payload` (which carries its delivery `id`) for a channel. Throws when the stored
    /// config cannot make a request (the API validates it, so only a hand-edited row gets here).
    public static func prepare(
        kind: String, config: JSONObject, secrets: [String: String], payload: JSONObject, now: Date = Date()
    ) throws(DeliveryError) -> PreparedDelivery {
        let text = NotificationText(payload: payload)
        let event = payload["event"]?.stringValue ?? "test"
        let userAgent = "User-Agent: pinguin/\(PinguinVersion.current)"
        func json(_ object: JSONObject) -> [UInt8] { JSONWriter.bytes(.object(object)) }
        func required(_ value: String?, _ name: String) throws(DeliveryError) -> String {
            guard let value, !value.isEmpty else { throw DeliveryError("the channel has no \(name)", retryable: false) }
            return value
        }
        func post(_ url: String, _ body: [UInt8], headers: [String] = []) -> PreparedDelivery {
            .http(HTTPDelivery(
                url: url, method: "POST", headers: ["Content-Type: application/json", userAgent] + headers, body: body,
                timeoutMilliseconds: httpTimeoutMilliseconds))
        }
        let markdownTitle = text.title

        switch kind {
        case "webhook":
            let url = try required(config["url"]?.stringValue, "config.url")
            var headers: [String] = [userAgent, "X-Pinguin-Event: \(event)", "X-Pinguin-Delivery: \(payload["id"]?.int64Value ?? 0)"]
            var hasContentType = false
            if let custom = config["headers"]?.objectValue {
                for (name, value) in zip(custom.keys, custom.values) {
                    if name.lowercased() == "content-type" { hasContentType = true }
                    headers.append("\(name): \(value.stringValue ?? "")")
                }
            }
            if !hasContentType { headers.append("Content-Type: application/json") }
            let body: [UInt8]
            if let template = config["template"]?.stringValue {
                body = Array(NotificationTemplate.render(template, payload: payload, text: text).utf8)
            } else {
                body = json(payload)
            }
            if config["hmac"]?.boolValue == true {
                let secret = try required(secrets["hmac_secret"], "secrets.hmac_secret")
                let timestamp = String(Int64(now.timeIntervalSince1970))
                headers.append("X-Pinguin-Timestamp: \(timestamp)")
                headers.append("X-Pinguin-Signature: sha256=\(signature(secret: secret, timestamp: timestamp, body: body))")
            }
            let method = config["method"]?.stringValue ?? "POST"
            return .http(HTTPDelivery(url: url, method: method, headers: headers, body: body, timeoutMilliseconds: httpTimeoutMilliseconds))
        case "slack":
            let url = try required(secrets["webhook_url"] ?? config["webhook_url"]?.stringValue, "webhook_url")
            return post(url, json(JSONObject(["text": .string(clip("*\(markdownTitle)*\n\(text.body)", 3_000))])))
        case "discord":
            let url = try required(secrets["webhook_url"] ?? config["webhook_url"]?.stringValue, "webhook_url")
            // Never ping anyone by accident: a monitor name with @everyone stays text.
            return post(url, json(JSONObject([
                "content": .string(clip("**\(markdownTitle)**\n\(text.body)", 2_000)),
                "allowed_mentions": .object(JSONObject(["parse": .array([])])),
            ])))
        case "teams":
            // A Teams Workflows ("Post to a channel when a webhook request is received") webhook
            // takes an Adaptive Card in a message; the old Office 365 connectors are retired.
            let url = try required(secrets["webhook_url"] ?? config["webhook_url"]?.stringValue, "webhook_url")
            let card = JSONObject([
                "$schema": .string("http://adaptivecards.io/schemas/adaptive-card.json"),
                "type": .string("AdaptiveCard"), "version": .string("1.4"),
                "body": .array([
                    .object(JSONObject(["type": .string("TextBlock"), "text": .string(markdownTitle), "weight": .string("Bolder"),
                                        "size": .string("Medium"), "wrap": .bool(true)])),
                    .object(JSONObject(["type": .string("TextBlock"), "text": .string(clip(text.body, 10_000)), "wrap": .bool(true)])),
                ]),
            ])
            return post(url, json(JSONObject([
                "type": .string("message"),
                "attachments": .array([.object(JSONObject([
                    "contentType": .string("application/vnd.microsoft.card.adaptive"), "content": .object(card),
                ]))]),
            ])))
        case "telegram":
            let token = try required(secrets["bot_token"], "secrets.bot_token")
            let api = trimSlash(config["api_url"]?.stringValue ?? "https://api.telegram.org")
            return post("\(api)/bot\(token)/sendMessage", json(JSONObject([
                "chat_id": config["chat_id"] ?? .null, "text": .string(clip("\(text.title)\n\(text.body)", 4_096)),
                "disable_web_page_preview": .bool(true),
            ])))
        case "ntfy":
            // JSON publishing to the server's root: titles may be any UTF-8, unlike ntfy's headers.
            let url = try required(config["url"]?.stringValue, "config.url")
            var message = JSONObject()
            message.append("topic", config["topic"] ?? .null)
            message.append("title", .string(text.title))
            message.append("message", .string(clip(text.body, 4_000)))
            message.append("priority", .int(config["priority"]?.int64Value ?? (event == "down" || event == "reminder" ? 4 : 3)))
            message.append("tags", .array([.string(ntfyTag(event, payload))]))
            let headers = secrets["token"].map { ["Authorization: Bearer \($0)"] } ?? []
            return post(trimSlash(url), json(message), headers: headers)
        case "gotify":
            let url = try required(config["url"]?.stringValue, "config.url")
            let token = try required(secrets["token"], "secrets.token")
            return post("\(trimSlash(url))/message", json(JSONObject([
                "title": .string(text.title), "message": .string(text.body),
                "priority": .int(config["priority"]?.int64Value ?? (event == "down" || event == "reminder" ? 8 : 5)),
            ])), headers: ["X-Gotify-Key: \(token)"])
        case "pagerduty":
            let key = try required(secrets["routing_key"], "secrets.routing_key")
            let url = config["events_url"]?.stringValue ?? "https://events.pagerduty.com/v2/enqueue"
            return try pagerDuty(url: url, key: key, config: config, payload: payload, text: text, event: event, post: post)
        case "email":
            return try email(config: config, secrets: secrets, payload: payload, text: text, event: event, now: now)
        case "exec":
            guard let command = config["command"]?.arrayValue?.compactMap(\.stringValue), !command.isEmpty else {
                throw DeliveryError("the channel has no config.command", retryable: false)
            }
            var environment = ["PATH": "/usr/bin:/bin", "PINGUIN_EVENT": event]
            if let id = payload["monitor"]?.objectValue?["id"]?.int64Value { environment["PINGUIN_MONITOR_ID"] = String(id) }
            return .exec(ExecDelivery(
                command: command, input: json(payload) + [UInt8(ascii: "\n")], environment: environment,
                timeoutMilliseconds: Int(config["timeout_ms"]?.int64Value ?? Int64(execTimeoutMilliseconds))))
        default:
            throw DeliveryError("unknown channel kind \(kind)", retryable: false)
        }
    }

    /// HMAC-SHA256 of `timestamp.body`, in hex: what a receiver recomputes to trust the webhook.
    public static func signature(secret: String, timestamp: String, body: [UInt8]) -> String {
        var mac = HMAC<SHA256>(key: SymmetricKey(data: Data(secret.utf8)))
        mac.update(data: Data(timestamp.utf8))
        mac.update(data: Data([UInt8(ascii: ".")]))
        mac.update(data: body)
        return Data(mac.finalize()).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    private static func pagerDuty(
        url: String, key: String, config: JSONObject, payload: JSONObject, text: NotificationText, event: String,
        post: (String, [UInt8], [String]) -> PreparedDelivery
    ) throws(DeliveryError) -> PreparedDelivery {
        let monitor = payload["monitor"]?.objectValue
        let monitorID = monitor?["id"]?.int64Value.map(String.init) ?? "0"
        var dedupKey = "pinguin-monitor-\(monitorID)"
        let action: String
        var severity = config["severity"]?.stringValue ?? "critical"
        switch event {
        case "down": action = "trigger"
        case "up": action = "resolve"
        case "degraded", "flapping":
            action = "trigger"
            severity = "warning"
        case "certificate_expiring":
            action = "trigger"
            severity = "warning"
            dedupKey += "-certificate"
        case "test", "supervisor_suspect":
            action = "trigger"
            severity = event == "test" ? "info" : "error"
            dedupKey = "pinguin-\(event)-\(payload["id"]?.int64Value ?? 0)"
        default:
            // PagerDuty escalates and re-notifies by itself.
            return .nothing(reason: "PagerDuty keeps its own reminders")
        }
        var body = JSONObject()
        body.append("routing_key", .string(key))
        body.append("event_action", .string(action))
        body.append("dedup_key", .string(dedupKey))
        if action == "trigger" {
            var details = payload
            details = JSONObject(pairs: zip(details.keys, details.values).filter { $0.0 != "channel" })
            body.append("payload", .object(JSONObject([
                "summary": .string(clip(text.body.isEmpty ? text.title : "\(text.title): \(text.body.split(separator: "\n").first ?? "")", 1_024)),
                "source": .string(monitor?["target"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? monitor?["name"]?.stringValue ?? "pinguin"),
                "severity": .string(severity),
                "timestamp": payload["at"] ?? .null,
                "component": monitor?["name"] ?? .null,
                "group": monitor?["namespace"] ?? .null,
                "class": monitor?["kind"] ?? .null,
                "custom_details": .object(details),
            ])))
        }
        return post(url, JSONWriter.bytes(.object(body)), [])
    }

    private static func email(
        config: JSONObject, secrets: [String: String], payload: JSONObject, text: NotificationText, event: String, now: Date
    ) throws(DeliveryError) -> PreparedDelivery {
        guard let url = config["smtp_url"]?.stringValue, let from = config["from"]?.stringValue,
              let to = config["to"]?.arrayValue?.compactMap(\.stringValue), !to.isEmpty else {
            throw DeliveryError("the channel needs config.smtp_url, config.from and config.to", retryable: false)
        }
        let id = payload["id"]?.int64Value ?? 0
        var lines = [
            "From: \(from)",
            "To: \(to.joined(separator: ", "))",
            "Subject: \(headerText("[Pinguin] \(text.title)"))",
            "Date: \(rfc5322Date(now))",
            "Message-ID: <pinguin-\(id)-\(Int64(now.timeIntervalSince1970 * 1000))@pinguin.invalid>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: 8bit",
            "X-Pinguin-Event: \(event)",
            "",
        ]
        lines += text.body.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines += ["", "-- ", "Event: \(event)"]
        if let at = payload["at"]?.stringValue { lines.append("At: \(at)") }
        let message = lines.map { $0.replacingOccurrences(of: "\r", with: "") }.joined(separator: "\r\n") + "\r\n"
        return .smtp(SMTPDelivery(
            url: url, from: address(from), recipients: to.map(address), message: Array(message.utf8),
            username: secrets["username"], password: secrets["password"],
            requireTLS: config["starttls"]?.boolValue ?? false, verifyTLS: config["tls_verify"]?.boolValue ?? true,
            caFile: config["ca_file"]?.stringValue, timeoutMilliseconds: smtpTimeoutMilliseconds))
    }

    /// The bare address of `Name <user@example.com>`.
    static func address(_ text: String) -> String {
        if let open = text.lastIndex(of: "<"), text.hasSuffix(">") {
            return String(text[text.index(after: open)..<text.index(before: text.endIndex)])
        }
        return text
    }

    /// A header value: as it is when ASCII, else an RFC 2047 encoded word.
    static func headerText(_ text: String) -> String {
        let clean = text.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
        if clean.unicodeScalars.allSatisfy({ $0.isASCII && $0.value >= 32 }) { return clean }
        return "=?UTF-8?B?\(Data(clean.utf8).base64EncodedString())?="
    }

    static func rfc5322Date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }

    private static func ntfyTag(_ event: String, _ payload: JSONObject) -> String {
        switch event {
        case "down", "reminder": "rotating_light"
        case "up": "white_check_mark"
        case "degraded", "flapping", "certificate_expiring": "warning"
        default: "bell"
        }
    }

    private static func trimSlash(_ url: String) -> String {
        var url = url
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    /// At most `limit` characters, with an ellipsis when cut.
    static func clip(_ text: String, _ limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
    }
}

/// Why a delivery failed, in words that never hold a secret, and whether trying again may help.
public struct DeliveryError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public var retryable: Bool

    public init(_ message: String, retryable: Bool) {
        self.message = message
        self.retryable = retryable
    }

    public var description: String { message }

    /// The same error with every secret value replaced, in case a receiver echoed one back.
    func redacting(_ secrets: some Sequence<String>) -> DeliveryError {
        var copy = self
        for secret in secrets where secret.count >= 4 {
            copy.message = copy.message.replacingOccurrences(of: secret, with: "[secret]")
        }
        return copy
    }
}
