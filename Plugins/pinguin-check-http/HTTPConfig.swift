import PinguinCheckerKit
import PinguinWire

/// The `http` kind's config, read from a config the supervisor has validated against
/// ``schema`` (defaults as there; a config given by hand is checked again here).
struct HTTPConfig: Sendable {
    enum HTTPVersion: String, Sendable { case auto, http1_1 = "1.1", http2 = "2" }
    enum IPVersion: String, Sendable { case any, v4 = "4", v6 = "6" }

    struct BodyExpectation: Sendable {
        var contains: String?
        var regex: String?
        var invert = false
    }

    struct JSONAssertion: Sendable {
        enum Operation: String, Sendable { case exists, eq, ne, lt, le, gt, ge, contains, matches }
        var path: String
        var operation: Operation = .exists
        var value: JSONValue?
        var type: String?
    }

    struct HeaderAssertion: Sendable {
        var name: String
        var equals: String?
        var contains: String?
        var regex: String?
        var absent = false
    }

    var method = "GET"
    var headers: [(name: String, value: String)] = []
    var body: String?
    var acceptedStatus: [ClosedRange<Int>] = [200...399]
    var acceptedStatusText = "200-399"
    var expectBody: BodyExpectation?
    var expectJSON: [JSONAssertion] = []
    var expectHeaders: [HeaderAssertion] = []
    var followRedirects = true
    var maximumRedirects = 10
    var tlsVerify = true
    var caFile: String?
    var serverName: String?
    var tlsMinimumVersion: String?
    var tlsMaximumVersion: String?
    var clientCertificate: String?
    var clientKey: String?
    var certificateExpiryDays = 14
    var certificateExpiryStatus: CheckStatus = .degraded
    var basicAuth: (username: String, password: String)?
    var bearerToken: String?
    var httpVersion: HTTPVersion = .auto
    var proxy: String?
    var ipVersion: IPVersion = .any
    var dnsServers: [String] = []
    var resolve: [String] = []
    var connectTo: [String] = []
    var timeoutMilliseconds: Int?
    var degradedMilliseconds: Int?
    var maximumBodyBytes = 1 << 20
    var freshConnection = true
    var userAgent = "pinguin-check-http/1.0"

    init(_ config: JSONObject) throws(CheckError) {
        for key in config.keys where !Self.keys.contains(key) {
            throw .invalidConfig("config.\(key) is not an option of the http kind")
        }
        let reader = Reader(object: config, prefix: "config")
        method = try reader.string("method") ?? method
        guard ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"].contains(method) else { throw .invalidConfig("config.method \(method) is not supported") }
        if let object = try reader.object("headers") {
            for (name, value) in zip(object.keys, object.values) {
                guard let text = value.stringValue, !text.contains("\r"), !text.contains("\n") else { throw .invalidConfig("config.headers.\(name) must be a string on one line") }
                headers.append((name, text))
            }
        }
        body = try reader.string("body")
        if let list = try reader.array("accepted_status") {
            acceptedStatus = try list.map { item throws(CheckError) in try Self.statusRange(item) }
            acceptedStatusText = list.map { $0.stringValue ?? ($0.int64Value.map(String.init) ?? "?") }.joined(separator: ", ")
        }
        if let object = try reader.object("expect_body") {
            let inner = Reader(object: object, prefix: "config.expect_body")
            expectBody = BodyExpectation(contains: try inner.string("contains"), regex: try inner.string("regex"), invert: try inner.bool("invert") ?? false)
        }
        for (index, item) in (try reader.array("expect_json") ?? []).enumerated() {
            guard let object = item.objectValue else { throw .invalidConfig("config.expect_json[\(index)] must be an object") }
            let inner = Reader(object: object, prefix: "config.expect_json[\(index)]")
            guard let path = try inner.string("path") else { throw .invalidConfig("config.expect_json[\(index)].path is required") }
            var assertion = JSONAssertion(path: path)
            if let op = try inner.string("op") {
                guard let operation = JSONAssertion.Operation(rawValue: op) else { throw .invalidConfig("config.expect_json[\(index)].op \(op) is not one of exists, eq, ne, lt, le, gt, ge, contains, matches") }
                assertion.operation = operation
            }
            assertion.value = object["value"]
            assertion.type = try inner.string("type")
            if assertion.operation != .exists && assertion.value == nil { throw .invalidConfig("config.expect_json[\(index)].value is required for op \(assertion.operation.rawValue)") }
            expectJSON.append(assertion)
        }
        for (index, item) in (try reader.array("expect_headers") ?? []).enumerated() {
            guard let object = item.objectValue else { throw .invalidConfig("config.expect_headers[\(index)] must be an object") }
            let inner = Reader(object: object, prefix: "config.expect_headers[\(index)]")
            guard let name = try inner.string("name") else { throw .invalidConfig("config.expect_headers[\(index)].name is required") }
            expectHeaders.append(HeaderAssertion(name: name, equals: try inner.string("equals"), contains: try inner.string("contains"),
                                                 regex: try inner.string("regex"), absent: try inner.bool("absent") ?? false))
        }
        followRedirects = try reader.bool("follow_redirects") ?? followRedirects
        maximumRedirects = try reader.integer("max_redirects", 0...50) ?? maximumRedirects
        tlsVerify = try reader.bool("tls_verify") ?? tlsVerify
        caFile = try reader.string("ca_file")
        serverName = try reader.string("server_name")
        tlsMinimumVersion = try reader.string("tls_min_version")
        tlsMaximumVersion = try reader.string("tls_max_version")
        for version in [tlsMinimumVersion, tlsMaximumVersion].compactMap({ $0 }) where Self.tlsVersions[version] == nil {
            throw .invalidConfig("TLS version \(version) is not one of 1.0, 1.1, 1.2, 1.3")
        }
        if let low = tlsMinimumVersion, let high = tlsMaximumVersion, Self.tlsVersions[low]! > Self.tlsVersions[high]! {
            throw .invalidConfig("config.tls_min_version \(low) is above config.tls_max_version \(high)")
        }
        clientCertificate = try reader.string("client_cert")
        clientKey = try reader.string("client_key")
        if (clientCertificate == nil) != (clientKey == nil) { throw .invalidConfig("config.client_cert and config.client_key go together") }
        certificateExpiryDays = try reader.integer("cert_expiry_days", 0...3650) ?? certificateExpiryDays
        if let status = try reader.string("cert_expiry_status") {
            guard status == "degraded" || status == "down" else { throw .invalidConfig("config.cert_expiry_status must be degraded or down") }
            certificateExpiryStatus = status == "down" ? .down : .degraded
        }
        if let object = try reader.object("basic_auth") {
            let inner = Reader(object: object, prefix: "config.basic_auth")
            guard let username = try inner.string("username"), let password = try inner.string("password") else { throw .invalidConfig("config.basic_auth needs username and password") }
            basicAuth = (username, password)
        }
        bearerToken = try reader.string("bearer_token")
        if basicAuth != nil && bearerToken != nil { throw .invalidConfig("config.basic_auth and config.bearer_token exclude each other") }
        if let version = try reader.string("http_version") {
            guard let parsed = HTTPVersion(rawValue: version) else { throw .invalidConfig("config.http_version must be auto, 1.1 or 2") }
            httpVersion = parsed
        }
        proxy = try reader.string("proxy")
        if let version = try reader.string("ip_version") {
            guard let parsed = IPVersion(rawValue: version) else { throw .invalidConfig("config.ip_version must be any, 4 or 6") }
            ipVersion = parsed
        }
        dnsServers = try reader.strings("dns_servers") ?? []
        resolve = try reader.strings("resolve") ?? []
        connectTo = try reader.strings("connect_to") ?? []
        timeoutMilliseconds = try reader.integer("timeout_ms", 1...3_600_000)
        degradedMilliseconds = try reader.integer("degraded_ms", 1...3_600_000)
        maximumBodyBytes = try reader.integer("max_body_bytes", 0...67_108_864) ?? maximumBodyBytes
        freshConnection = try reader.bool("fresh_connection") ?? freshConnection
        userAgent = try reader.string("user_agent") ?? userAgent
    }

    static let keys: Set<String> = [
        "method", "headers", "body", "accepted_status", "expect_body", "expect_json", "expect_headers", "follow_redirects",
        "max_redirects", "tls_verify", "ca_file", "server_name", "tls_min_version", "tls_max_version", "client_cert", "client_key",
        "cert_expiry_days", "cert_expiry_status", "basic_auth", "bearer_token", "http_version", "proxy", "ip_version",
        "dns_servers", "resolve", "connect_to", "timeout_ms", "degraded_ms", "max_body_bytes", "fresh_connection", "user_agent",
    ]

    static let tlsVersions = ["1.0": 0, "1.1": 1, "1.2": 2, "1.3": 3]

    static func statusRange(_ item: JSONValue) throws(CheckError) -> ClosedRange<Int> {
        if let code = item.int64Value, (100...599).contains(code) { return Int(code)...Int(code) }
        if let text = item.stringValue {
            let parts = text.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
            if parts.count == 1, let code = parts[0], (100...599).contains(code) { return code...code }
            if parts.count == 2, let low = parts[0], let high = parts[1], (100...599).contains(low), (100...599).contains(high), low <= high { return low...high }
        }
        throw .invalidConfig("config.accepted_status: \(String(decoding: JSONWriter.bytes(item), as: UTF8.self)) is neither a status code (100-599) nor a range like \"200-299\"")
    }

    /// Typed reads that name the field on a wrong type.
    struct Reader {
        var object: JSONObject
        var prefix: String

        func string(_ key: String) throws(CheckError) -> String? {
            guard let value = object[key], value != .null else { return nil }
            guard let text = value.stringValue else { throw .invalidConfig("\(prefix).\(key) must be a string, got \(value.typeName)") }
            return text
        }

        func bool(_ key: String) throws(CheckError) -> Bool? {
            guard let value = object[key], value != .null else { return nil }
            guard let flag = value.boolValue else { throw .invalidConfig("\(prefix).\(key) must be a boolean, got \(value.typeName)") }
            return flag
        }

        func integer(_ key: String, _ range: ClosedRange<Int>) throws(CheckError) -> Int? {
            guard let value = object[key], value != .null else { return nil }
            guard let number = value.int64Value, range.contains(Int(number)) else { throw .invalidConfig("\(prefix).\(key) must be an integer from \(range.lowerBound) to \(range.upperBound)") }
            return Int(number)
        }

        func object(_ key: String) throws(CheckError) -> JSONObject? {
            guard let value = object[key], value != .null else { return nil }
            guard let inner = value.objectValue else { throw .invalidConfig("\(prefix).\(key) must be an object, got \(value.typeName)") }
            return inner
        }

        func array(_ key: String) throws(CheckError) -> [JSONValue]? {
            guard let value = object[key], value != .null else { return nil }
            guard let items = value.arrayValue else { throw .invalidConfig("\(prefix).\(key) must be an array, got \(value.typeName)") }
            return items
        }

        func strings(_ key: String) throws(CheckError) -> [String]? {
            guard let items = try array(key) else { return nil }
            return try items.enumerated().map { index, item throws(CheckError) in
                guard let text = item.stringValue else { throw .invalidConfig("\(prefix).\(key)[\(index)] must be a string") }
                return text
            }
        }
    }
}
