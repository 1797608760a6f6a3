import Foundation
import PinguinNotify
import PinguinPostgres
public import PinguinStore
import PinguinWire

/// `channel.create/get/list/update/delete`: where alerts go. Each kind's `config` is checked here,
/// with errors naming the field (`config.url`). Credentials go in `secrets`, which are stored but
/// never shown again: answers list the secrets' names, and neither errors nor the audit log hold
/// their values.
public enum ChannelMethods {
    /// `channel.test` could not deliver (the message says why).
    public static let deliveryFailedCode = 1020
    public static let kinds = ["webhook", "slack", "discord", "teams", "telegram", "ntfy", "gotify", "pagerduty", "email", "exec"]

    public static func register(into router: inout JSONRPCRouter, store: ChannelStore, actor: @escaping @Sendable () -> String) {
        router.register("channel.create", scope: .write) { request in
            await MonitorMethods.run { () throws(JSONRPCError) -> JSONValue in
                var params = try NamedParams(request.params, method: request.method)
                var draft = ChannelDraft(name: try params.requiredString("name", maxLength: 200), kind: try params.requiredString("kind", maxLength: 63))
                let config = try params.object("config") ?? JSONObject()
                let secretChanges = try secrets(&params) ?? [:]
                draft.enabled = try params.bool("enabled") ?? true
                draft.namespace = try namespace(&params) ?? "default"
                draft.monitorIDs = try params.integers("monitor_ids", maxCount: 1_000) ?? []
                try params.rejectUnknown()
                guard kinds.contains(draft.kind) else {
                    throw .invalidParams("kind must be one of \(kinds.joined(separator: ", "))", field: "kind")
                }
                let secretValues = secretChanges.compactMapValues { $0 }
                try validate(kind: draft.kind, config: config, secrets: secretValues)
                draft.configJSON = JSONWriter.string(.object(config))
                draft.secretsJSON = secretsJSON(secretValues)
                return try result(try await storeCall { try await store.create(draft, actor: actor()) }, id: nil)
            }
        }
        router.register("channel.get") { request in
            await MonitorMethods.run { () throws(JSONRPCError) -> JSONValue in
                var params = try NamedParams(request.params, method: request.method)
                let id = try params.requiredInteger("id", in: 1...Int64.max)
                try params.rejectUnknown()
                guard let record = try await storeCall({ try await store.get(id: id) }) else { throw notFound(id) }
                return json(record)
            }
        }
        router.register("channel.list") { request in
            await MonitorMethods.run { () throws(JSONRPCError) -> JSONValue in
                var params = try NamedParams(request.params, method: request.method)
                var filter = ChannelFilter()
                filter.namespace = try params.string("namespace", maxLength: 63)
                filter.kind = try params.string("kind", maxLength: 63)
                filter.limit = Int(try params.integer("limit", in: 1...1_000) ?? 100)
                filter.afterID = try params.integer("after", in: 0...Int64.max)
                try params.rejectUnknown()
                let records = try await storeCall { try await store.list(filter) }
                return MonitorMethods.page("channels", records.map(json), lastID: records.last?.id, full: records.count == filter.limit)
            }
        }
        router.register("channel.update", scope: .write) { request in
            await MonitorMethods.run { () throws(JSONRPCError) -> JSONValue in
                var params = try NamedParams(request.params, method: request.method)
                let id = try params.requiredInteger("id", in: 1...Int64.max)
                let name = try params.string("name", maxLength: 200)
                let config = try params.object("config")
                let secretChanges = try secrets(&params)
                let enabled = try params.bool("enabled")
                let monitorIDs = try params.integers("monitor_ids", maxCount: 1_000)
                try params.rejectUnknown()
                var fields: [String] = []
                if name != nil { fields.append("name") }
                if config != nil { fields.append("config") }
                if secretChanges != nil { fields.append("secrets") }
                if enabled != nil { fields.append("enabled") }
                if monitorIDs != nil { fields.append("monitor_ids") }
                guard !fields.isEmpty else { throw .invalidParams("nothing to change", field: "params") }
                let outcome = try await storeCall {
                    try await store.update(id: id, changedFields: fields, actor: actor()) { current, storedSecrets in
                        var draft = current.draft(secretsJSON: storedSecrets)
                        if let name { draft.name = name }
                        if let enabled { draft.enabled = enabled }
                        if let monitorIDs { draft.monitorIDs = monitorIDs }
                        var secretValues = ChannelTarget.secretValues(fromJSON: storedSecrets)
                        for (key, value) in secretChanges ?? [:] { secretValues[key] = value }
                        let finalConfig = try config ?? (JSONParser.parse(current.configJSON).objectValue ?? JSONObject())
                        try validate(kind: current.kind, config: finalConfig, secrets: secretValues)
                        draft.configJSON = JSONWriter.string(.object(finalConfig))
                        draft.secretsJSON = secretsJSON(secretValues)
                        return draft
                    }
                }
                return try result(outcome, id: id)
            }
        }
        router.register("channel.test", scope: .write) { request in
            await MonitorMethods.run { () throws(JSONRPCError) -> JSONValue in
                var params = try NamedParams(request.params, method: request.method)
                let id = try params.requiredInteger("id", in: 1...Int64.max)
                let message = try params.string("message", maxLength: 1_000) ?? "This is a test notification from Pinguin. If you can read it, the channel works."
                try params.rejectUnknown()
                guard let channel = try await storeCall({ try await store.target(id: id) }) else { throw notFound(id) }
                // Sent now, not through the outbox, so the answer says whether it worked and why not.
                let payload = NotificationSender.testPayload(channel: channel, id: 0, message: message)
                do throws(DeliveryError) {
                    let receipt = try await NotificationSender.send(payload, via: channel)
                    var object = JSONObject()
                    object.append("delivered", .bool(true))
                    object.append("id", .int(id))
                    object.append("code", receipt.code.map { .int($0) } ?? .null)
                    object.append("duration_ms", .double((receipt.milliseconds * 10).rounded() / 10))
                    return .object(object)
                } catch {
                    throw JSONRPCError(
                        code: deliveryFailedCode, message: "the test notification was not delivered: \(error.message)", kind: "delivery_failed",
                        details: JSONObject(["id": .int(id), "retryable": .bool(error.retryable)]))
                }
            }
        }
        router.register("channel.delete", scope: .write) { request in
            await MonitorMethods.run { () throws(JSONRPCError) -> JSONValue in
                var params = try NamedParams(request.params, method: request.method)
                let id = try params.requiredInteger("id", in: 1...Int64.max)
                try params.rejectUnknown()
                guard try await storeCall({ try await store.delete(id: id, actor: actor()) }) else { throw notFound(id) }
                return .object(JSONObject(["deleted": .bool(true), "id": .int(id)]))
            }
        }
    }

    /// The answer to a create or update.
    private static func result(_ outcome: ChannelWriteOutcome, id: Int64?) throws(JSONRPCError) -> JSONValue {
        switch outcome {
        case .saved(let record): return json(record)
        case .notFound: throw notFound(id ?? 0)
        case .unknownMonitors(let ids): throw unknownMonitors(ids)
        }
    }

    static func unknownMonitors(_ ids: [Int64]) -> JSONRPCError {
        .invalidParams("monitor_ids names monitors that do not exist: \(ids.map(String.init).joined(separator: ", "))", field: "monitor_ids")
    }

    /// `namespace`, checked as monitors' are (the channel and maintenance tables leave it to the API).
    static func namespace(_ params: inout NamedParams) throws(JSONRPCError) -> String? {
        guard let namespace = try params.string("namespace", maxLength: 63) else { return nil }
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789_.-")
        guard let first = namespace.first, first.isASCII, first.isLetter || first.isNumber, namespace.allSatisfy(allowed.contains) else {
            throw .invalidParams("namespace must be lowercase letters, digits, '_', '.' and '-', starting with a letter or digit", field: "namespace")
        }
        return namespace
    }

    /// `secrets`: names to string values, or to null (remove, in an update). Values are never quoted in errors.
    private static func secrets(_ params: inout NamedParams) throws(JSONRPCError) -> [String: String?]? {
        guard let object = try params.object("secrets") else { return nil }
        var secrets: [String: String?] = [:]
        for (key, value) in zip(object.keys, object.values) {
            switch value {
            case .null:
                secrets[key] = .some(nil)
            case .string(let text) where !text.isEmpty && text.utf8.count <= 10_000:
                secrets[key] = text
            case .string:
                throw .invalidParams("secrets.\(key) must be 1 to 10000 bytes long", field: "secrets.\(key)")
            default:
                throw .invalidParams("secrets.\(key) must be a string, not \(value.typeName)", field: "secrets.\(key)")
            }
        }
        return secrets
    }

    private static func secretsJSON(_ secrets: [String: String]) -> String {
        var object = JSONObject()
        for key in secrets.keys.sorted() { object.append(key, .string(secrets[key]!)) }
        return JSONWriter.string(.object(object))
    }

    /// Checks a kind's `config` and the names (and shapes) of its secrets.
    static func validate(kind: String, config: JSONObject, secrets: [String: String]) throws(JSONRPCError) {
        var reader = FieldReader(config, prefix: "config")
        var allowedSecrets: Set<String> = []
        var requiredSecrets: [String] = []
        // Options every kind takes (proto-docs/notifications.md).
        try reader.events("events")
        _ = try reader.integer("reminder_interval_ms", in: 60_000...604_800_000)
        try reader.days("certificate_expiry_days")
        switch kind {
        case "webhook":
            _ = try reader.url("url", schemes: ["http", "https"], required: true)
            if let method = try reader.string("method", maxLength: 10), !["POST", "PUT"].contains(method) {
                throw .invalidParams("config.method must be POST or PUT", field: "config.method")
            }
            try reader.headers("headers")
            _ = try reader.string("template", maxLength: 65_536)
            allowedSecrets = ["hmac_secret"]
            if try reader.bool("hmac") == true { requiredSecrets = ["hmac_secret"] }
        case "slack", "discord", "teams":
            let inConfig = try reader.url("webhook_url", schemes: ["https"], required: false)
            allowedSecrets = ["webhook_url"]
            if secrets["webhook_url"] != nil {
                guard inConfig == nil else {
                    throw .invalidParams("webhook_url belongs in secrets or in config, not both", field: "config.webhook_url")
                }
                try FieldReader.checkURL(secrets["webhook_url"]!, field: "secrets.webhook_url", schemes: ["https"])
            } else if inConfig == nil {
                throw .invalidParams("secrets.webhook_url (or config.webhook_url) is required", field: "secrets.webhook_url")
            }
        case "telegram":
            try reader.chatID("chat_id")
            _ = try reader.url("api_url", schemes: ["http", "https"], required: false)
            allowedSecrets = ["bot_token"]
            requiredSecrets = ["bot_token"]
            if let token = secrets["bot_token"] {
                let parts = token.split(separator: ":", maxSplits: 1)
                guard parts.count == 2, parts[0].allSatisfy(\.isASCII), parts[0].allSatisfy(\.isNumber),
                      parts[1].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) else {
                    throw .invalidParams("secrets.bot_token must look like 123456789:AAH… (as BotFather gives it)", field: "secrets.bot_token")
                }
            }
        case "ntfy":
            _ = try reader.url("url", schemes: ["http", "https"], required: true)
            let topic = try reader.string("topic", maxLength: 64, required: true)!
            guard !topic.isEmpty, topic.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) else {
                throw .invalidParams("config.topic must be 1 to 64 letters, digits, '_' or '-'", field: "config.topic")
            }
            _ = try reader.integer("priority", in: 1...5)
            allowedSecrets = ["token"]
        case "gotify":
            _ = try reader.url("url", schemes: ["http", "https"], required: true)
            _ = try reader.integer("priority", in: 0...10)
            allowedSecrets = ["token"]
            requiredSecrets = ["token"]
        case "pagerduty":
            if let severity = try reader.string("severity", maxLength: 10), !["critical", "error", "warning", "info"].contains(severity) {
                throw .invalidParams("config.severity must be critical, error, warning or info", field: "config.severity")
            }
            _ = try reader.url("events_url", schemes: ["http", "https"], required: false)
            allowedSecrets = ["routing_key"]
            requiredSecrets = ["routing_key"]
        case "email":
            let smtpURL = try reader.url("smtp_url", schemes: ["smtp", "smtps"], required: true)!
            try reader.address("from", required: true)
            try reader.addresses("to")
            if try reader.bool("starttls") == true, smtpURL.lowercased().hasPrefix("smtps:") {
                throw .invalidParams("config.starttls is for smtp:// URLs; smtps:// is TLS from the start", field: "config.starttls")
            }
            _ = try reader.bool("tls_verify")
            if let caFile = try reader.string("ca_file", maxLength: 4_096), !caFile.hasPrefix("/") {
                throw .invalidParams("config.ca_file must be an absolute path", field: "config.ca_file")
            }
            allowedSecrets = ["username", "password"]
        case "exec":
            try reader.command("command")
            _ = try reader.integer("timeout_ms", in: 100...60_000)
        default:
            throw .invalidParams("kind must be one of \(kinds.joined(separator: ", "))", field: "kind")
        }
        try reader.rejectUnknown()
        for name in secrets.keys.sorted() where !allowedSecrets.contains(name) {
            let allowed = allowedSecrets.isEmpty ? "none" : allowedSecrets.sorted().joined(separator: ", ")
            throw .invalidParams("\(kind) channels take no secret \(name) (they take: \(allowed))", field: "secrets.\(name)")
        }
        for name in requiredSecrets where secrets[name] == nil {
            throw .invalidParams("secrets.\(name) is required for \(kind) channels", field: "secrets.\(name)")
        }
    }

    /// The parameter each database constraint guards.
    static let constraintFields: [String: String] = [
        "notification_channels_name_length": "name", "notification_channels_kind": "kind",
        "notification_channels_config_object": "config", "notification_channels_secrets_object": "secrets",
    ]

    static func notFound(_ id: Int64) -> JSONRPCError {
        JSONRPCError(code: MonitorMethods.notFoundCode, message: "no channel \(id)", kind: "not_found", details: JSONObject(["id": .int(id)]))
    }

    /// Runs a store call, turning database errors into JSON-RPC errors that name what is wrong.
    static func storeCall<T>(_ body: () async throws -> T) async throws(JSONRPCError) -> T {
        try await StoreErrors.translate(subject: "channel", constraintFields: constraintFields, foreignKeyField: "monitor_ids", body)
    }

    static func json(_ record: ChannelRecord) -> JSONValue {
        var object = JSONObject()
        object.append("id", .int(record.id))
        object.append("namespace", .string(record.namespace))
        object.append("name", .string(record.name))
        object.append("kind", .string(record.kind))
        object.append("config", (try? JSONParser.parse(record.configJSON)) ?? .object(JSONObject()))
        object.append("secrets", .array(record.secretNames.map { .string($0) }))
        object.append("enabled", .bool(record.enabled))
        object.append("monitor_ids", .array(record.monitorIDs.map { .int($0) }))
        object.append("created_at", .string(RFC3339.string(record.createdAt)))
        object.append("updated_at", .string(RFC3339.string(record.updatedAt)))
        return .object(object)
    }
}

/// Reads a channel's `config` strictly, naming fields as `config.url`. Messages never quote
/// values: a webhook URL can carry a key.
private struct FieldReader {
    let object: JSONObject
    let prefix: String
    private var used: Set<String> = []

    init(_ object: JSONObject, prefix: String) {
        self.object = object
        self.prefix = prefix
    }

    private func field(_ key: String) -> String { "\(prefix).\(key)" }

    private mutating func take(_ key: String) -> JSONValue? {
        used.insert(key)
        guard let value = object[key], value != .null else { return nil }
        return value
    }

    mutating func string(_ key: String, maxLength: Int, required: Bool = false) throws(JSONRPCError) -> String? {
        guard let value = take(key) else {
            if required { throw .invalidParams("\(field(key)) is required", field: field(key)) }
            return nil
        }
        guard case .string(let text) = value else { throw .invalidParams("\(field(key)) must be a string, not \(value.typeName)", field: field(key)) }
        guard text.count <= maxLength else { throw .invalidParams("\(field(key)) is longer than \(maxLength) characters", field: field(key)) }
        return text
    }

    mutating func bool(_ key: String) throws(JSONRPCError) -> Bool? {
        guard let value = take(key) else { return nil }
        guard case .bool(let flag) = value else { throw .invalidParams("\(field(key)) must be true or false, not \(value.typeName)", field: field(key)) }
        return flag
    }

    mutating func integer(_ key: String, in range: ClosedRange<Int64>) throws(JSONRPCError) -> Int64? {
        guard let value = take(key) else { return nil }
        guard case .number = value, let number = value.int64Value else {
            throw .invalidParams("\(field(key)) must be an integer, not \(value.typeName == "number" ? "a fraction" : value.typeName)", field: field(key))
        }
        guard range.contains(number) else {
            throw .invalidParams("\(field(key)) must be from \(range.lowerBound) to \(range.upperBound), not \(number)", field: field(key))
        }
        return number
    }

    mutating func url(_ key: String, schemes: Set<String>, required: Bool) throws(JSONRPCError) -> String? {
        guard let text = try string(key, maxLength: 2_048, required: required) else { return nil }
        try Self.checkURL(text, field: field(key), schemes: schemes)
        return text
    }

    static func checkURL(_ text: String, field: String, schemes: Set<String>) throws(JSONRPCError) {
        let names = schemes.sorted().map { "\($0)://" }.joined(separator: " or ")
        guard text.utf8.count <= 2_048, !text.contains(where: { $0.isWhitespace }), let components = URLComponents(string: text),
              let scheme = components.scheme?.lowercased(), schemes.contains(scheme), let host = components.host, !host.isEmpty else {
            throw .invalidParams("\(field) must be a \(names) URL with a host", field: field)
        }
    }

    /// HTTP headers: names are tokens, values hold no line breaks.
    mutating func headers(_ key: String) throws(JSONRPCError) {
        guard let value = take(key) else { return }
        guard case .object(let headers) = value else { throw .invalidParams("\(field(key)) must be an object of strings", field: field(key)) }
        let tokenCharacters = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        for (name, value) in zip(headers.keys, headers.values) {
            let path = "\(field(key)).\(name)"
            guard !name.isEmpty, name.allSatisfy(tokenCharacters.contains) else {
                throw .invalidParams("\(field(key)) has a name that is not a valid HTTP header name", field: path)
            }
            guard case .string(let text) = value, !text.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }), text.utf8.count <= 8_192 else {
                throw .invalidParams("\(path) must be a string of at most 8192 bytes without line breaks", field: path)
            }
        }
    }

    /// Days before a certificate's end to warn at: 1 to 10 distinct integers from 0 to 3650.
    mutating func days(_ key: String) throws(JSONRPCError) {
        guard let value = take(key) else { return }
        guard case .array(let values) = value, (1...10).contains(values.count) else {
            throw .invalidParams("\(field(key)) must be an array of 1 to 10 day counts", field: field(key))
        }
        var seen: Set<Int64> = []
        for (index, element) in values.enumerated() {
            guard case .number = element, let days = element.int64Value, (0...3_650).contains(days), seen.insert(days).inserted else {
                throw .invalidParams("\(field(key))[\(index)] must be a whole number of days from 0 to 3650, each once", field: "\(field(key))[\(index)]")
            }
        }
    }

    /// Which events a channel takes: a non-empty array of event names, each once.
    mutating func events(_ key: String) throws(JSONRPCError) {
        guard let value = take(key) else { return }
        let known = ["down", "up", "degraded", "flapping", "reminder", "certificate_expiring", "supervisor_suspect"]
        guard case .array(let values) = value, !values.isEmpty else {
            throw .invalidParams("\(field(key)) must be a non-empty array of events: \(known.joined(separator: ", "))", field: field(key))
        }
        var seen: Set<String> = []
        for (index, element) in values.enumerated() {
            guard case .string(let name) = element, known.contains(name) else {
                throw .invalidParams("\(field(key))[\(index)] must be one of \(known.joined(separator: ", "))", field: "\(field(key))[\(index)]")
            }
            guard seen.insert(name).inserted else {
                throw .invalidParams("\(field(key)) lists \(name) twice", field: "\(field(key))[\(index)]")
            }
        }
    }

    /// A Telegram chat: a numeric id (as a number or a string) or an `@channel` name.
    mutating func chatID(_ key: String) throws(JSONRPCError) {
        guard let value = take(key) else { throw .invalidParams("\(field(key)) is required", field: field(key)) }
        switch value {
        case .number where value.int64Value != nil:
            return
        case .string(let text) where Int64(text) != nil || (text.hasPrefix("@") && text.count >= 2 && text.count <= 64):
            return
        default:
            throw .invalidParams("\(field(key)) must be a chat id (an integer) or an @channel name", field: field(key))
        }
    }

    private static func isAddress(_ text: String) -> Bool {
        var address = Substring(text)
        // `Name <user@example.com>` is fine too.
        if let open = text.lastIndex(of: "<"), text.hasSuffix(">") { address = text[text.index(after: open)..<text.index(before: text.endIndex)] }
        let parts = address.split(separator: "@", omittingEmptySubsequences: false)
        return address.utf8.count <= 254 && parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".")
            && !parts[1].hasPrefix(".") && !parts[1].hasSuffix(".")
            && !address.contains(where: { $0.isWhitespace || $0 == "<" || $0 == ">" || $0 == "," || $0.asciiValue.map { $0 < 32 } == true })
    }

    mutating func address(_ key: String, required: Bool) throws(JSONRPCError) {
        guard let text = try string(key, maxLength: 320, required: required) else { return }
        guard Self.isAddress(text) else { throw .invalidParams("\(field(key)) must be an email address", field: field(key)) }
    }

    /// A non-empty array of email addresses.
    mutating func addresses(_ key: String) throws(JSONRPCError) {
        guard let value = take(key) else { throw .invalidParams("\(field(key)) is required", field: field(key)) }
        guard case .array(let values) = value, !values.isEmpty, values.count <= 100 else {
            throw .invalidParams("\(field(key)) must be an array of 1 to 100 email addresses", field: field(key))
        }
        for (index, element) in values.enumerated() {
            guard case .string(let text) = element, Self.isAddress(text) else {
                throw .invalidParams("\(field(key))[\(index)] must be an email address", field: "\(field(key))[\(index)]")
            }
        }
    }

    /// A program and its arguments, run without a shell: the program by absolute path.
    mutating func command(_ key: String) throws(JSONRPCError) {
        guard let value = take(key) else { throw .invalidParams("\(field(key)) is required", field: field(key)) }
        guard case .array(let values) = value, !values.isEmpty, values.count <= 100 else {
            throw .invalidParams("\(field(key)) must be an array of 1 to 100 strings: the program, then its arguments", field: field(key))
        }
        for (index, element) in values.enumerated() {
            guard case .string(let text) = element, !text.unicodeScalars.contains("\0"), text.utf8.count <= 4_096 else {
                throw .invalidParams("\(field(key))[\(index)] must be a string", field: "\(field(key))[\(index)]")
            }
            if index == 0, !text.hasPrefix("/") {
                throw .invalidParams("\(field(key))[0] must be the program's absolute path", field: "\(field(key))[0]")
            }
        }
    }

    func rejectUnknown() throws(JSONRPCError) {
        for key in object.keys where !used.contains(key) {
            throw .invalidParams("unknown setting \(field(key))", field: field(key))
        }
    }
}
