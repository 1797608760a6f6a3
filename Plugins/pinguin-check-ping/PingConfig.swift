import PinguinCheckerKit
import PinguinWire

/// The `ping` kind's config (proto-docs/checkers/ping.md).
struct PingConfig: Sendable {
    enum IPVersion: String, Sendable {
        case any, ipv4, ipv6
        case preferIPv4 = "prefer_ipv4"
        case preferIPv6 = "prefer_ipv6"
    }

    var count = 3
    var intervalMilliseconds: Int64 = 200
    var timeoutMilliseconds: Int64 = 1000
    var payloadBytes = 56
    var ttl: Int32?
    var dontFragment = false
    var ipVersion: IPVersion = .any
    var degradedLossPercent: Double?
    var downLossPercent: Double?
    var degradedRTTMilliseconds: Double?
    var downRTTMilliseconds: Double?

    static let schema: JSONValue = try! JSONParser.parse(#"""
        {"type":"object","additionalProperties":false,"properties":{
        "count":{"type":"integer","minimum":1,"maximum":100,"default":3,"description":"Echo requests to send."},
        "interval_ms":{"type":"integer","minimum":10,"maximum":10000,"default":200,"description":"Time between two requests."},
        "timeout_ms":{"type":"integer","minimum":1,"maximum":60000,"default":1000,"description":"How long to wait for the reply to the last request; a reply after the check ends counts as lost. Never later than the check's deadline."},
        "payload_bytes":{"type":"integer","minimum":8,"maximum":65000,"default":56,"description":"ICMP payload size (the first 8 bytes are the check's cookie)."},
        "ttl":{"type":"integer","minimum":1,"maximum":255,"description":"IPv4 TTL or IPv6 hop limit of the requests (default: the system's)."},
        "dont_fragment":{"type":"boolean","default":false,"description":"Set don't-fragment (IPv4 DF; IPv6: never fragment locally). A request larger than the path MTU then fails (error_kind message_too_big)."},
        "ip_version":{"enum":["any","ipv4","ipv6","prefer_ipv4","prefer_ipv6"],"default":"any","description":"For a host name: which resolved address to ping. An address target is used as it is, without DNS."},
        "degraded_loss_percent":{"type":"number","minimum":0,"maximum":100,"description":"Degraded (error_kind packet_loss) when at least this share of requests got no reply."},
        "down_loss_percent":{"type":"number","minimum":0,"maximum":100,"description":"Down (error_kind packet_loss) when at least this share of requests got no reply. All lost is always down (no_reply)."},
        "degraded_rtt_ms":{"type":"number","minimum":0,"description":"Degraded (error_kind high_rtt) when the average round trip is at least this many milliseconds."},
        "down_rtt_ms":{"type":"number","minimum":0,"description":"Down (error_kind high_rtt) when the average round trip is at least this many milliseconds."}}}
        """#)

    /// A host name, an IPv4 address or an IPv6 address (no port, no brackets).
    static let targetSchema: JSONValue = try! JSONParser.parse(#"""
        {"type":"string","minLength":1,"maxLength":253,"pattern":"^([A-Za-z0-9_.-]+|[0-9A-Fa-f:.]+(%[A-Za-z0-9_.-]+)?)$"}
        """#)

    init(_ config: JSONObject) throws(CheckError) {
        // The kit fills in defaults but validates nothing, so a misspelt option (`timout_ms`)
        // would silently fall back to its default: every key must be one the schema lists.
        let known = Set(Self.schema.objectValue?["properties"]?.objectValue?.keys ?? [])
        for key in config.keys where !known.contains(key) {
            throw .invalidConfig("config.\(key) is not an option of the ping kind")
        }
        func integer(_ key: String, _ range: ClosedRange<Int64>) throws(CheckError) -> Int64? {
            guard let value = config[key] else { return nil }
            guard let number = value.int64Value, range.contains(number) else {
                throw .invalidConfig("\(key) must be an integer from \(range.lowerBound) to \(range.upperBound)")
            }
            return number
        }
        func number(_ key: String, maximum: Double?) throws(CheckError) -> Double? {
            guard let value = config[key] else { return nil }
            guard let number = value.doubleValue, number >= 0, number <= (maximum ?? .infinity) else {
                throw .invalidConfig("\(key) must be a number from 0\(maximum.map { " to \(Int($0))" } ?? " up")")
            }
            return number
        }
        if let value = try integer("count", 1...100) { count = Int(value) }
        if let value = try integer("interval_ms", 10...10_000) { intervalMilliseconds = value }
        if let value = try integer("timeout_ms", 1...60_000) { timeoutMilliseconds = value }
        if let value = try integer("payload_bytes", 8...65_000) { payloadBytes = Int(value) }
        if let value = try integer("ttl", 1...255) { ttl = Int32(value) }
        if let value = config["dont_fragment"] {
            guard let flag = value.boolValue else { throw .invalidConfig("dont_fragment must be true or false") }
            dontFragment = flag
        }
        if let value = config["ip_version"] {
            guard let text = value.stringValue, let version = IPVersion(rawValue: text) else { throw .invalidConfig("ip_version must be any, ipv4, ipv6, prefer_ipv4 or prefer_ipv6") }
            ipVersion = version
        }
        degradedLossPercent = try number("degraded_loss_percent", maximum: 100)
        downLossPercent = try number("down_loss_percent", maximum: 100)
        degradedRTTMilliseconds = try number("degraded_rtt_ms", maximum: nil)
        downRTTMilliseconds = try number("down_rtt_ms", maximum: nil)
    }
}
