import PinguinCheckerKit
import PinguinDNS
import PinguinWire

/// The `dns` kind's config (proto-docs/checkers/dns.md), defaults as in its schema.
struct DNSCheckConfig {
    enum Transport: String {
        case udp, tcp
    }

    var recordType: DNSRecordType = .a
    /// The resolver's address in normalized form; nil for the system's (/etc/resolv.conf).
    var resolver: String?
    var port: UInt16 = 53
    var transport: Transport = .udp
    var timeout: Duration?
    var acceptedCodes: [DNSResponseCode] = [.noError]
    var expectations = DNSAnswerExpectations()
    var degradedAfter: Duration?

    static let schema: JSONValue = try! JSONParser.parse(#"""
        {"type":"object","additionalProperties":false,"properties":{
        "record_type":{"enum":["A","AAAA","CNAME","MX","NS","TXT","SOA","SRV","PTR","CAA"],"default":"A","description":"The record type to ask for. For PTR, a target that is an IP address is turned into its in-addr.arpa or ip6.arpa name."},
        "resolver":{"type":"string","maxLength":64,"default":"","description":"The resolver's IPv4 or IPv6 address (no host names, no port); empty for the system's resolvers from /etc/resolv.conf."},
        "port":{"type":"integer","minimum":1,"maximum":65535,"default":53,"description":"The resolver's port; only with resolver."},
        "protocol":{"enum":["udp","tcp"],"default":"udp","description":"udp (a truncated answer is retried over TCP) or tcp for every query."},
        "timeout_ms":{"type":"integer","minimum":1,"maximum":600000,"description":"How long to wait for the answer (error_kind timeout, status down). Default: the check's timeout less a tenth (at most 250 ms), so the lookup ends before the supervisor's deadline."},
        "rcodes":{"type":"array","items":{"enum":["NOERROR","FORMERR","SERVFAIL","NXDOMAIN","NOTIMP","REFUSED","YXDOMAIN","YXRRSET","NXRRSET","NOTAUTH","NOTZONE"]},"minItems":1,"uniqueItems":true,"default":["NOERROR"],"description":"The response codes that count as up. Another code is down with error_kind nxdomain, servfail, refused or rcode_mismatch. The answer checks below apply only to NOERROR responses."},
        "min_count":{"type":"integer","minimum":0,"maximum":1000,"default":1,"description":"At least this many answers of record_type (a CNAME on the way does not count). None is error_kind no_answer, fewer too_few_answers."},
        "all_of":{"type":"array","items":{"type":"string","minLength":1,"maxLength":1024},"maxItems":100,"default":[],"description":"Every one of these must be among the answers (error_kind answer_mismatch). Values are written as dig prints them: 192.0.2.1, 2001:db8::1, host.example, \"10 mail.example\" (MX), \"10 5 5060 sip.example\" (SRV), the TXT strings joined, \"ns.example hostmaster.example serial refresh retry expire minimum\" (SOA), \"0 issue \\\"ca.example\\\"\" (CAA). Addresses are compared normalized, names without case and final dot."},
        "any_of":{"type":"array","items":{"type":"string","minLength":1,"maxLength":1024},"maxItems":100,"default":[],"description":"At least one of these must be among the answers (answer_mismatch)."},
        "none_of":{"type":"array","items":{"type":"string","minLength":1,"maxLength":1024},"maxItems":100,"default":[],"description":"None of these may be among the answers (answer_mismatch)."},
        "exact":{"type":"array","items":{"type":"string","minLength":1,"maxLength":1024},"maxItems":100,"description":"The answers, as a set, must be exactly these (answer_mismatch, naming what is missing and what is unexpected)."},
        "degraded_ms":{"type":"integer","minimum":1,"maximum":600000,"description":"An answer slower than this makes an otherwise good check degraded (error_kind slow)."}}}
        """#)

    /// A domain name (or, for PTR, an IP address) of at most 253 characters.
    static let targetSchema: JSONValue = try! JSONParser.parse(#"{"type":"string","minLength":1,"maxLength":254}"#)

    init(_ config: JSONObject) throws(CheckError) {
        // The kit fills in defaults but validates nothing, so a misspelt option (`timout_ms`)
        // would silently fall back to its default: every key must be one the schema lists.
        let known = Set(Self.schema.objectValue?["properties"]?.objectValue?.keys ?? [])
        for key in config.keys where !known.contains(key) {
            throw .invalidConfig("config.\(key) is not an option of the dns kind")
        }
        if let value = config["record_type"] {
            guard let text = value.stringValue, let type = DNSRecordType(mnemonic: text), DNSRecordType.checkable.contains(type) else {
                throw .invalidConfig("record_type must be one of A, AAAA, CNAME, MX, NS, TXT, SOA, SRV, PTR, CAA")
            }
            recordType = type
        }
        if let value = config["resolver"] {
            guard let text = value.stringValue else { throw .invalidConfig("resolver must be a string") }
            if !text.isEmpty {
                guard let address = DNSPresentation.address(text) else {
                    throw .invalidConfig("resolver must be an IPv4 or IPv6 address, not \(text.prefix(64))")
                }
                resolver = address.text
            }
        }
        if let value = config["port"] {
            guard let number = value.int64Value, (1...65535).contains(number) else { throw .invalidConfig("port must be an integer from 1 to 65535") }
            port = UInt16(number)
        }
        if let value = config["protocol"] {
            guard let text = value.stringValue, let transport = Transport(rawValue: text) else { throw .invalidConfig("protocol must be udp or tcp") }
            self.transport = transport
        }
        if let value = config["timeout_ms"] {
            guard let number = value.int64Value, (1...600_000).contains(number) else { throw .invalidConfig("timeout_ms must be an integer from 1 to 600000") }
            timeout = .milliseconds(number)
        }
        if let value = config["rcodes"] {
            guard let list = value.arrayValue, !list.isEmpty else { throw .invalidConfig("rcodes must be a non-empty array") }
            acceptedCodes = []
            for item in list {
                guard let text = item.stringValue, let code = DNSResponseCode(mnemonic: text) else {
                    throw .invalidConfig("rcodes must list response codes such as NOERROR, NXDOMAIN, SERVFAIL, REFUSED")
                }
                acceptedCodes.append(code)
            }
        }
        if let value = config["min_count"] {
            guard let number = value.int64Value, (0...1000).contains(number) else { throw .invalidConfig("min_count must be an integer from 0 to 1000") }
            expectations.minimumCount = Int(number)
        }
        expectations.allOf = try Self.values(config, "all_of", recordType) ?? []
        expectations.anyOf = try Self.values(config, "any_of", recordType) ?? []
        expectations.noneOf = try Self.values(config, "none_of", recordType) ?? []
        expectations.exactly = try Self.values(config, "exact", recordType)
        if let value = config["degraded_ms"] {
            guard let number = value.int64Value, (1...600_000).contains(number) else { throw .invalidConfig("degraded_ms must be an integer from 1 to 600000") }
            degradedAfter = .milliseconds(number)
        }
    }

    private static func values(_ config: JSONObject, _ key: String, _ type: DNSRecordType) throws(CheckError) -> [String]? {
        guard let value = config[key] else { return nil }
        guard let list = value.arrayValue else { throw .invalidConfig("\(key) must be an array of strings") }
        var values: [String] = []
        for item in list {
            guard let text = item.stringValue else { throw .invalidConfig("\(key) must be an array of strings") }
            values.append(DNSPresentation.normalize(text, as: type))
        }
        return values
    }
}
