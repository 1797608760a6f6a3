/// One resource record of a DNS message, its data decoded for the types Pinguin checks.
public struct DNSRecord: Hashable, Sendable {
    /// The owner name in presentation form, lower case, without the final dot (`"."` for the root).
    public var name: String
    public var type: DNSRecordType
    /// The class (1 is IN); for an OPT record, the sender's UDP payload size.
    public var recordClass: UInt16
    public var ttl: UInt32
    public var data: DNSRecordData

    public init(name: String, type: DNSRecordType, recordClass: UInt16 = 1, ttl: UInt32, data: DNSRecordData) {
        self.name = name
        self.type = type
        self.recordClass = recordClass
        self.ttl = ttl
        self.data = data
    }

    /// The record data in the normalized presentation form that expectations are compared with.
    public var value: String { data.presentation }
}

/// Decoded record data. Names are lower case without the final dot.
public enum DNSRecordData: Hashable, Sendable {
    case a(String)
    case aaaa(String)
    /// CNAME, NS and PTR: one domain name.
    case name(String)
    case mx(preference: UInt16, exchange: String)
    /// The character-strings of a TXT record, each decoded as UTF-8 (invalid bytes replaced).
    case txt([String])
    case soa(DNSStartOfAuthority)
    case srv(priority: UInt16, weight: UInt16, port: UInt16, target: String)
    case caa(flags: UInt8, tag: String, value: String)
    /// Any other type, as its raw bytes.
    case other([UInt8])

    /// The normalized presentation form: `192.0.2.1`, `2001:db8::1`, `host.example`,
    /// `10 mail.example`, the TXT strings joined, `ns hostmaster serial refresh retry expire minimum`,
    /// `priority weight port target`, `0 issue "ca.example"`, or `\# length hex` (RFC 3597).
    public var presentation: String {
        switch self {
        case .a(let address), .aaaa(let address): address
        case .name(let name): name
        case .mx(let preference, let exchange): "\(preference) \(exchange)"
        case .txt(let strings): strings.joined()
        case .soa(let soa): "\(soa.primary) \(soa.mailbox) \(soa.serial) \(soa.refresh) \(soa.retry) \(soa.expire) \(soa.minimum)"
        case .srv(let priority, let weight, let port, let target): "\(priority) \(weight) \(port) \(target)"
        case .caa(let flags, let tag, let value): "\(flags) \(tag) \"\(value)\""
        case .other(let bytes): "\\# \(bytes.count)" + (bytes.isEmpty ? "" : " " + DNSPresentation.hex(bytes))
        }
    }
}

/// The data of an SOA record (RFC 1035 §3.3.13).
public struct DNSStartOfAuthority: Hashable, Sendable {
    public var primary: String
    public var mailbox: String
    public var serial: UInt32
    public var refresh: UInt32
    public var retry: UInt32
    public var expire: UInt32
    public var minimum: UInt32

    public init(primary: String, mailbox: String, serial: UInt32, refresh: UInt32, retry: UInt32, expire: UInt32, minimum: UInt32) {
        self.primary = primary
        self.mailbox = mailbox
        self.serial = serial
        self.refresh = refresh
        self.retry = retry
        self.expire = expire
        self.minimum = minimum
    }
}
