import Glibc

/// Presentation forms (RFC 1035 §5.1, RFC 5952) of what a DNS message holds, and the same forms
/// made from what a user wrote, so that `2001:DB8:0::1` matches an answer `2001:db8::1`.
public enum DNSPresentation {
    /// A label in lower case, with `.`, `\` and bytes outside printable ASCII escaped.
    static func label(_ bytes: ArraySlice<UInt8>) -> String {
        var text = ""
        text.reserveCapacity(bytes.count)
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "."), UInt8(ascii: "\\"):
                text.append("\\")
                text.unicodeScalars.append(Unicode.Scalar(byte))
            case 0x21...0x7E:
                text.unicodeScalars.append(Unicode.Scalar(byte | (0x41...0x5A ~= byte ? 0x20 : 0)))
            default:
                let digits = String(byte)
                text += "\\" + String(repeating: "0", count: 3 - digits.count) + digits
            }
        }
        return text
    }

    static func ipv4(_ bytes: ArraySlice<UInt8>) -> String {
        bytes.map(String.init).joined(separator: ".")
    }

    /// RFC 5952: lower case, leading zeros dropped, the longest run of two or more zero groups
    /// (the first of equals) as `::`.
    static func ipv6(_ bytes: ArraySlice<UInt8>) -> String {
        let base = bytes.startIndex
        let groups = (0..<8).map { UInt16(bytes[base + 2 * $0]) << 8 | UInt16(bytes[base + 2 * $0 + 1]) }
        var best = (start: -1, length: 0)
        var run = (start: -1, length: 0)
        for (index, group) in groups.enumerated() {
            if group == 0 {
                run = run.start < 0 ? (index, 1) : (run.start, run.length + 1)
                if run.length > best.length { best = run }
            } else {
                run = (-1, 0)
            }
        }
        func hex(_ range: Range<Int>) -> String { groups[range].map { String($0, radix: 16) }.joined(separator: ":") }
        guard best.length >= 2 else { return hex(0..<8) }
        return hex(0..<best.start) + "::" + hex(best.start + best.length..<8)
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    /// A domain name as written by a user, in the form the reader produces: lower case, no final
    /// dot, `"."` for the root.
    public static func name(_ text: some StringProtocol) -> String {
        var name = text.lowercased()
        while name.count > 1, name.hasSuffix("."), !name.hasSuffix("\\.") { name.removeLast() }
        return name
    }

    /// The IPv4 or IPv6 address `text` in normalized form, or nil when it is not an address.
    public static func address(_ text: String) -> (family: Int32, bytes: [UInt8], text: String)? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            let bytes = withUnsafeBytes(of: &v4) { Array($0) }
            return (AF_INET, bytes, ipv4(bytes[...]))
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            let bytes = withUnsafeBytes(of: &v6) { Array($0) }
            return (AF_INET6, bytes, ipv6(bytes[...]))
        }
        return nil
    }

    /// The reverse-lookup name of an address: `4.3.2.1.in-addr.arpa`, or nibbles under `ip6.arpa`.
    public static func reverseName(_ address: String) -> String? {
        guard let parsed = self.address(address) else { return nil }
        if parsed.family == AF_INET {
            return parsed.bytes.reversed().map(String.init).joined(separator: ".") + ".in-addr.arpa"
        }
        return parsed.bytes.reversed().flatMap { [String($0 & 0x0F, radix: 16), String($0 >> 4, radix: 16)] }.joined(separator: ".") + ".ip6.arpa"
    }

    /// An expected answer, written the way dig prints it, in the form ``DNSRecordData/presentation``
    /// gives for `type`: addresses normalized, names lower case without the final dot, numbers
    /// without leading zeros, CAA values quoted. Text that does not fit the type is kept as written
    /// (it then simply matches nothing).
    public static func normalize(_ text: String, as type: DNSRecordType) -> String {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
        func number(_ field: Substring) -> String? { UInt64(field).map(String.init) }
        switch type {
        case .a, .aaaa:
            return address(text.trimmingSpaces)?.text ?? text
        case .cname, .ns, .ptr:
            return fields.count == 1 ? name(fields[0]) : text
        case .mx:
            guard fields.count == 2, let preference = number(fields[0]) else { return text }
            return "\(preference) \(name(fields[1]))"
        case .srv:
            guard fields.count == 4, let priority = number(fields[0]), let weight = number(fields[1]), let port = number(fields[2]) else { return text }
            return "\(priority) \(weight) \(port) \(name(fields[3]))"
        case .soa:
            guard fields.count == 7 else { return text }
            let numbers = fields[2...].compactMap(number)
            guard numbers.count == 5 else { return text }
            return ([name(fields[0]), name(fields[1])] + numbers).joined(separator: " ")
        case .caa:
            guard fields.count >= 3, let flags = number(fields[0]) else { return text }
            var value = fields[2...].joined(separator: " ")
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            return "\(flags) \(fields[1].lowercased()) \"\(value)\""
        default:
            return text
        }
    }
}

extension String {
    var trimmingSpaces: String {
        String(drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }
}
