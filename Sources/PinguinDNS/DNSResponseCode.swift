/// A DNS response code (RFC 1035 §4.1.1, RFC 2136, RFC 6895): the four bits of the header, or
/// twelve with an EDNS OPT record.
public struct DNSResponseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16

    public init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    public static let noError = DNSResponseCode(rawValue: 0)
    public static let formatError = DNSResponseCode(rawValue: 1)
    public static let serverFailure = DNSResponseCode(rawValue: 2)
    public static let nameError = DNSResponseCode(rawValue: 3)
    public static let notImplemented = DNSResponseCode(rawValue: 4)
    public static let refused = DNSResponseCode(rawValue: 5)

    /// The mnemonics of RFC 6895 §2.3 that a check config may list, in code order.
    public static let names: [String] = [
        "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE",
    ]

    /// The code named `mnemonic` (`"NXDOMAIN"`, case-insensitive), or nil.
    public init?(mnemonic: String) {
        guard let index = Self.names.firstIndex(of: mnemonic.uppercased()) else { return nil }
        self.init(rawValue: UInt16(index))
    }

    public var description: String {
        rawValue < Self.names.count ? Self.names[Int(rawValue)] : "RCODE\(rawValue)"
    }
}
