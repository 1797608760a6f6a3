import Glibc
import PinguinWire

/// What the certificate chain says (from CURLOPT_CERTINFO): the server's certificate and the
/// one of the chain that expires first, with its issuer.
struct CertificateFacts: Sendable {
    struct Certificate: Sendable {
        var subject: String
        var issuer: String
        var notBefore: Int?
        var notAfter: Int?
    }

    var chain: [Certificate]

    init(_ certificates: [[String: String]]) {
        chain = certificates.map { fields in
            Certificate(subject: fields["Subject"] ?? "", issuer: fields["Issuer"] ?? "",
                        notBefore: fields["Start date"].flatMap(Self.parseDate), notAfter: fields["Expire date"].flatMap(Self.parseDate))
        }
    }

    /// The certificate of the chain with the earliest expiry.
    var earliest: Certificate? {
        chain.filter { $0.notAfter != nil }.min { $0.notAfter! < $1.notAfter! }
    }

    static func daysLeft(_ notAfter: Int, now: Int = Int(time(nil))) -> Double {
        (Double(notAfter - now) / 86_400 * 10).rounded(.down) / 10
    }

    var details: JSONObject {
        var details = JSONObject()
        if let leaf = chain.first {
            details.append("subject", .string(leaf.subject))
            details.append("issuer", .string(leaf.issuer))
            if let notBefore = leaf.notBefore { details.append("not_before", .string(Self.format(notBefore))) }
            if let notAfter = leaf.notAfter {
                details.append("not_after", .string(Self.format(notAfter)))
                details.append("days_left", .double(Self.daysLeft(notAfter)))
            }
        }
        details.append("chain_length", .int(chain.count))
        if let earliest, let notAfter = earliest.notAfter {
            details.append("earliest_expiry", .object(JSONObject([
                "not_after": .string(Self.format(notAfter)), "days_left": .double(Self.daysLeft(notAfter)),
                "subject": .string(earliest.subject), "issuer": .string(earliest.issuer),
            ])))
        }
        return details
    }

    /// OpenSSL's ASN1_TIME_print form, as libcurl passes it on: "Jan  2 03:04:05 2030 GMT".
    static func parseDate(_ text: String) -> Int? {
        let fields = text.split(separator: " ")
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard fields.count == 5, fields[4] == "GMT", let month = months.firstIndex(of: String(fields[0])),
              let day = Int32(fields[1]), let year = Int32(fields[3]) else { return nil }
        let clock = fields[2].split(separator: ":").compactMap { Int32($0) }
        guard clock.count == 3 else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = Int32(month)
        parts.tm_mday = day
        parts.tm_hour = clock[0]
        parts.tm_min = clock[1]
        parts.tm_sec = clock[2]
        return Int(timegm(&parts))
    }

    static func format(_ seconds: Int) -> String {
        var value = time_t(seconds)
        var parts = tm()
        gmtime_r(&value, &parts)
        func two(_ number: Int32) -> String { number < 10 ? "0\(number)" : "\(number)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }
}
