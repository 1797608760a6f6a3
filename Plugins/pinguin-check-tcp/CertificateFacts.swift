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
