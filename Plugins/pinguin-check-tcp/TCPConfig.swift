import PinguinCheckerKit
import PinguinWire

/// The `tcp` kind's config (proto-docs/checkers/tcp.md). The kit fills in top-level defaults;
/// nested ones (`tls.*`, a step's `timeout_ms`) are applied here.
struct TCPConfig: Sendable {
    enum IPVersion: String, Sendable {
        case any, ipv4, ipv6
        case preferIPv4 = "prefer_ipv4"
        case preferIPv6 = "prefer_ipv6"
    }

    struct TLS: Sendable {
        enum Version: String, Sendable { case v1_0 = "1.0", v1_1 = "1.1", v1_2 = "1.2", v1_3 = "1.3" }
        var serverName: String?
        var verify = true
        var caFile: String?
        var minimumVersion: Version = .v1_2
        /// 0: no threshold.
        var expiryDays: Int64 = 0
        var expiryStatus: CheckStatus = .degraded
    }

    enum Step: Sendable {
        case send([UInt8])
        case expectBytes([UInt8], display: String, timeoutMilliseconds: Int64?)
        case expectRegex(String, timeoutMilliseconds: Int64?)
    }

    var timeoutMilliseconds: Int64?
    var degradedMilliseconds: Int64?
    var ipVersion: IPVersion = .any
    var bannerBytes = 256
    var bannerWaitMilliseconds: Int64 = 0
    var tls: TLS?
    var steps: [Step] = []

    static let schema: JSONValue = try! JSONParser.parse(#"""
        {"type":"object","additionalProperties":false,"properties":{
        "timeout_ms":{"type":"integer","minimum":1,"maximum":600000,"description":"Connect timeout in milliseconds. Default: the time left before the check's deadline (less a small margin, so that a timeout is answered as down, not as a plugin timeout). Never later than that."},
        "degraded_ms":{"type":"integer","minimum":1,"maximum":600000,"description":"The check is degraded (error_kind slow) when it takes longer than this many milliseconds in all (resolve, connect, TLS and steps)."},
        "ip_version":{"enum":["any","ipv4","ipv6","prefer_ipv4","prefer_ipv6"],"default":"any","description":"Which resolved address to connect to: any (the resolver's first), only IPv4, only IPv6, or one family first. One address is tried, never several."},
        "banner_bytes":{"type":"integer","minimum":0,"maximum":4096,"default":256,"description":"How many of the first bytes the server sends are kept in details.banner."},
        "banner_wait_ms":{"type":"integer","minimum":0,"maximum":600000,"default":0,"description":"After connecting (and TLS), wait up to this long for the server's first bytes, so that details.banner holds them. No bytes in time is not a failure; use an expect step to require a banner."},
        "tls":{"type":"object","additionalProperties":false,"description":"Speak TLS after connecting. Present (even {}) means on.","properties":{
          "server_name":{"type":"string","minLength":1,"maxLength":253,"description":"Name sent as SNI and checked against the certificate. Default: the target's host when it is a name; for an address the certificate must name the address."},
          "verify":{"type":"boolean","default":true,"description":"Verify the certificate chain and name. false accepts any certificate (its facts are still reported)."},
          "ca_file":{"type":"string","pattern":"^/","description":"PEM file of trusted CA certificates, instead of the system's."},
          "min_version":{"enum":["1.0","1.1","1.2","1.3"],"default":"1.2","description":"Lowest TLS version accepted."},
          "expiry_days":{"type":"integer","minimum":0,"maximum":3650,"default":0,"description":"When the certificate expires in fewer than this many days, the check is expiry_status (error_kind tls_expiring). 0: no threshold."},
          "expiry_status":{"enum":["degraded","down"],"default":"degraded","description":"The status for a certificate within expiry_days of its end."}}},
        "steps":{"type":"array","maxItems":32,"description":"Send and expect steps, in order, after connecting (and TLS).","items":{
          "type":"object","additionalProperties":false,"minProperties":1,
          "properties":{
            "send":{"type":"string","maxLength":65536,"description":"Text to send, as UTF-8 (write \r\n yourself)."},
            "send_hex":{"type":"string","maxLength":131072,"pattern":"^(\\s*[0-9A-Fa-f]{2})*\\s*$","description":"Bytes to send, as hex (spaces allowed)."},
            "expect":{"type":"string","minLength":1,"maxLength":4096,"description":"Wait until the bytes received since the previous expect contain this text."},
            "expect_hex":{"type":"string","minLength":2,"maxLength":8192,"pattern":"^(\\s*[0-9A-Fa-f]{2})+\\s*$","description":"Wait until the bytes received since the previous expect contain these bytes."},
            "expect_regex":{"type":"string","minLength":1,"maxLength":4096,"format":"regex","description":"Wait until the bytes received since the previous expect (as UTF-8 text) match this regular expression."},
            "timeout_ms":{"type":"integer","minimum":1,"maximum":600000,"description":"How long an expect step waits (default: until the check's deadline)."}},
          "oneOf":[{"required":["send"]},{"required":["send_hex"]},{"required":["expect"]},{"required":["expect_hex"]},{"required":["expect_regex"]}],
          "dependentSchemas":{"timeout_ms":{"anyOf":[{"required":["expect"]},{"required":["expect_hex"]},{"required":["expect_regex"]}]}}}}}}
        """#)

    /// `host:port`, `[v6]:port`: a host name or address and a port.
    static let targetSchema: JSONValue = try! JSONParser.parse(#"""
        {"type":"string","maxLength":300,"pattern":"^(\\[[0-9A-Fa-f:.]+(%[A-Za-z0-9_.-]+)?\\]|[A-Za-z0-9_.-]+):[0-9]{1,5}$"}
        """#)

    init(_ config: JSONObject) throws(CheckError) {
        let properties = Self.schema.objectValue?["properties"]?.objectValue
        try Self.rejectUnknownKeys(config, of: properties, at: "config.")
        if let value = config["timeout_ms"] {
            guard let number = value.int64Value, (1...600_000).contains(number) else { throw .invalidConfig("timeout_ms must be an integer from 1 to 600000") }
            timeoutMilliseconds = number
        }
        if let value = config["degraded_ms"] {
            guard let number = value.int64Value, (1...600_000).contains(number) else { throw .invalidConfig("degraded_ms must be an integer from 1 to 600000") }
            degradedMilliseconds = number
        }
        if let value = config["ip_version"] {
            guard let text = value.stringValue, let version = IPVersion(rawValue: text) else { throw .invalidConfig("ip_version must be any, ipv4, ipv6, prefer_ipv4 or prefer_ipv6") }
            ipVersion = version
        }
        if let value = config["banner_bytes"] {
            guard let number = value.int64Value, (0...4096).contains(number) else { throw .invalidConfig("banner_bytes must be an integer from 0 to 4096") }
            bannerBytes = Int(number)
        }
        if let value = config["banner_wait_ms"] {
            guard let number = value.int64Value, (0...600_000).contains(number) else { throw .invalidConfig("banner_wait_ms must be an integer from 0 to 600000") }
            bannerWaitMilliseconds = number
        }
        if let value = config["tls"] {
            guard let object = value.objectValue else { throw .invalidConfig("tls must be an object") }
            try Self.rejectUnknownKeys(object, of: properties?["tls"]?.objectValue?["properties"]?.objectValue, at: "config.tls.")
            tls = try Self.tls(object)
        }
        if let value = config["steps"] {
            guard let array = value.arrayValue else { throw .invalidConfig("steps must be an array") }
            let stepProperties = properties?["steps"]?.objectValue?["items"]?.objectValue?["properties"]?.objectValue
            steps = try array.enumerated().map { index, step throws(CheckError) in
                if let object = step.objectValue { try Self.rejectUnknownKeys(object, of: stepProperties, at: "config.steps[\(index)].") }
                return try Self.step(step, at: index)
            }
        }
    }

    /// The kit fills in defaults but validates nothing, so a misspelt option (`timout_ms`) would
    /// silently fall back to its default: every key must be one the schema lists.
    private static func rejectUnknownKeys(_ object: JSONObject, of properties: JSONObject?, at path: String) throws(CheckError) {
        let known = Set(properties?.keys ?? [])
        for key in object.keys where !known.contains(key) {
            throw .invalidConfig("\(path)\(key) is not an option of the tcp kind")
        }
    }

    private static func tls(_ object: JSONObject) throws(CheckError) -> TLS {
        var tls = TLS()
        if let value = object["server_name"] {
            guard let text = value.stringValue, !text.isEmpty else { throw .invalidConfig("tls.server_name must be a non-empty string") }
            tls.serverName = text
        }
        if let value = object["verify"] {
            guard let flag = value.boolValue else { throw .invalidConfig("tls.verify must be true or false") }
            tls.verify = flag
        }
        if let value = object["ca_file"] {
            guard let text = value.stringValue, text.hasPrefix("/") else { throw .invalidConfig("tls.ca_file must be an absolute path") }
            tls.caFile = text
        }
        if let value = object["min_version"] {
            guard let text = value.stringValue, let version = TLS.Version(rawValue: text) else { throw .invalidConfig("tls.min_version must be 1.0, 1.1, 1.2 or 1.3") }
            tls.minimumVersion = version
        }
        if let value = object["expiry_days"] {
            guard let number = value.int64Value, (0...3650).contains(number) else { throw .invalidConfig("tls.expiry_days must be an integer from 0 to 3650") }
            tls.expiryDays = number
        }
        if let value = object["expiry_status"] {
            guard let text = value.stringValue, text == "degraded" || text == "down" else { throw .invalidConfig("tls.expiry_status must be degraded or down") }
            tls.expiryStatus = text == "down" ? .down : .degraded
        }
        return tls
    }

    private static func step(_ value: JSONValue, at index: Int) throws(CheckError) -> Step {
        guard let object = value.objectValue else { throw .invalidConfig("steps[\(index)] must be an object") }
        let actions = ["send", "send_hex", "expect", "expect_hex", "expect_regex"].filter { object[$0] != nil }
        guard actions.count == 1, let action = actions.first, let text = object[action]?.stringValue else {
            throw .invalidConfig("steps[\(index)] needs exactly one of send, send_hex, expect, expect_hex, expect_regex, as a string")
        }
        var timeout: Int64?
        if let value = object["timeout_ms"] {
            guard let number = value.int64Value, (1...600_000).contains(number), action.hasPrefix("expect") else {
                throw .invalidConfig("steps[\(index)].timeout_ms must be an integer from 1 to 600000, on an expect step")
            }
            timeout = number
        }
        switch action {
        case "send":
            return .send(Array(text.utf8))
        case "send_hex":
            guard let bytes = Hex.decode(text) else { throw .invalidConfig("steps[\(index)].send_hex must be pairs of hex digits") }
            return .send(bytes)
        case "expect":
            return .expectBytes(Array(text.utf8), display: text, timeoutMilliseconds: timeout)
        case "expect_hex":
            guard let bytes = Hex.decode(text), !bytes.isEmpty else { throw .invalidConfig("steps[\(index)].expect_hex must be pairs of hex digits") }
            return .expectBytes(bytes, display: "0x" + Hex.encode(bytes), timeoutMilliseconds: timeout)
        default:
            do { _ = try Regex(text) } catch { throw .invalidConfig("steps[\(index)].expect_regex does not compile: \(error)") }
            return .expectRegex(text, timeoutMilliseconds: timeout)
        }
    }
}
