import Foundation
import PinguinWire

/// What a check reports about a certificate: names and validity, read from its DER encoding
/// (NIOSSL exposes validity but not the subject and issuer names).
struct CertificateFacts: Sendable {
    var subject: String
    var issuer: String
    var notBefore: Date
    var notAfter: Date
    var serial: String
    var dnsNames: [String]

    init?(der: [UInt8], notBefore: Int, notAfter: Int, serial: [UInt8], dnsNames: [String]) {
        self.notBefore = Date(timeIntervalSince1970: TimeInterval(notBefore))
        self.notAfter = Date(timeIntervalSince1970: TimeInterval(notAfter))
        self.serial = Hex.encode(serial)
        self.dnsNames = dnsNames
        // Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version?, serial, signature,
        //   issuer Name, validity, subject Name, … } … }
        guard let certificate = DER.element(der, at: 0), certificate.tag == 0x30,
              let tbs = DER.element(der, at: certificate.contentStart), tbs.tag == 0x30 else { return nil }
        var fields: [DER.Element] = []
        var offset = tbs.contentStart
        while offset < tbs.end, fields.count < 7, let field = DER.element(der, at: offset) {
            fields.append(field)
            offset = field.end
        }
        let skip = fields.first?.tag == 0xA0 ? 1 : 0
        guard fields.count >= skip + 5 else { return nil }
        issuer = DER.name(der, fields[skip + 2])
        subject = DER.name(der, fields[skip + 4])
    }

    func json(now: Date) -> JSONValue {
        .object(JSONObject([
            "subject": .string(subject),
            "issuer": .string(issuer),
            "not_before": .string(RFC3339Format.string(notBefore)),
            "not_after": .string(RFC3339Format.string(notAfter)),
            "days_left": .double((notAfter.timeIntervalSince(now) / 86_400 * 100).rounded(.down) / 100),
            "serial": .string(serial),
            "dns_names": .array(dnsNames.map { .string($0) }),
        ]))
    }
}

enum RFC3339Format {
    static func string(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                      Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }
}

/// Just enough DER to read X.509 names.
enum DER {
    struct Element {
        var tag: UInt8
        var contentStart: Int
        var end: Int
    }

    static func element(_ bytes: [UInt8], at offset: Int) -> Element? {
        guard offset + 2 <= bytes.count else { return nil }
        let tag = bytes[offset]
        var length = Int(bytes[offset + 1])
        var start = offset + 2
        if length & 0x80 != 0 {
            let count = length & 0x7F
            guard count >= 1, count <= 4, start + count <= bytes.count else { return nil }
            length = 0
            for byte in bytes[start..<start + count] { length = length << 8 | Int(byte) }
            start += count
        }
        guard start + length <= bytes.count else { return nil }
        return Element(tag: tag, contentStart: start, end: start + length)
    }

    static let attributeNames: [[UInt8]: String] = [
        [0x55, 0x04, 0x03]: "CN", [0x55, 0x04, 0x06]: "C", [0x55, 0x04, 0x07]: "L", [0x55, 0x04, 0x08]: "ST",
        [0x55, 0x04, 0x0A]: "O", [0x55, 0x04, 0x0B]: "OU", [0x55, 0x04, 0x05]: "serialNumber",
    ]

    /// Name ::= SEQUENCE OF SET OF SEQUENCE { type OID, value }, as `CN=x, O=y` (in encoded order).
    static func name(_ bytes: [UInt8], _ name: Element) -> String {
        var parts: [String] = []
        var setOffset = name.contentStart
        while setOffset < name.end, let set = element(bytes, at: setOffset) {
            var pairOffset = set.contentStart
            while pairOffset < set.end, let pair = element(bytes, at: pairOffset) {
                if let oid = element(bytes, at: pair.contentStart), oid.tag == 0x06,
                   let value = element(bytes, at: oid.end) {
                    let oidBytes = Array(bytes[oid.contentStart..<oid.end])
                    let key = attributeNames[oidBytes] ?? oidBytes.map { String($0) }.joined(separator: ".")
                    parts.append("\(key)=\(String(decoding: bytes[value.contentStart..<value.end], as: UTF8.self))")
                }
                pairOffset = pair.end
            }
            setOffset = set.end
        }
        return parts.joined(separator: ", ")
    }
}
