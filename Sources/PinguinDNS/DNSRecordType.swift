/// A DNS resource record type (RFC 1035 §3.2.2 and later), with the mnemonic for the ones
/// Pinguin knows and `TYPEnnn` (RFC 3597) for the rest.
public struct DNSRecordType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16

    public init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    public static let a = DNSRecordType(rawValue: 1)
    public static let ns = DNSRecordType(rawValue: 2)
    public static let cname = DNSRecordType(rawValue: 5)
    public static let soa = DNSRecordType(rawValue: 6)
    public static let ptr = DNSRecordType(rawValue: 12)
    public static let mx = DNSRecordType(rawValue: 15)
    public static let txt = DNSRecordType(rawValue: 16)
    public static let aaaa = DNSRecordType(rawValue: 28)
    public static let srv = DNSRecordType(rawValue: 33)
    public static let opt = DNSRecordType(rawValue: 41)
    public static let caa = DNSRecordType(rawValue: 257)

    /// The types a `dns` check can ask for, by mnemonic.
    public static let checkable: [DNSRecordType] = [.a, .aaaa, .cname, .mx, .ns, .txt, .soa, .srv, .ptr, .caa]

    static let mnemonics: [UInt16: String] = [
        1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV", 41: "OPT", 257: "CAA",
    ]

    /// The type named `mnemonic` (`"MX"`, `"mx"`, `"TYPE65"`), or nil.
    public init?(mnemonic: String) {
        let upper = mnemonic.uppercased()
        if let match = Self.mnemonics.first(where: { $0.value == upper }) {
            self.init(rawValue: match.key)
        } else if upper.hasPrefix("TYPE"), let number = UInt16(upper.dropFirst(4)) {
            self.init(rawValue: number)
        } else {
            return nil
        }
    }

    public var description: String { Self.mnemonics[rawValue] ?? "TYPE\(rawValue)" }
}
