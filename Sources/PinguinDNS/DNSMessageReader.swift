/// Reads the fields of a DNS message in order: integers in network byte order, compressed names
/// (RFC 1035 §4.1.4) and resource records.
struct DNSMessageReader {
    let bytes: [UInt8]
    var offset = 0

    /// The longest name in wire form (RFC 1035 §2.3.4).
    static let maximumNameBytes = 255

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    func fail(_ reason: String, at offset: Int? = nil) -> DNSMessageError {
        DNSMessageError(offset: offset ?? self.offset, reason: reason)
    }

    mutating func uint8(_ field: String) throws(DNSMessageError) -> UInt8 {
        guard offset < bytes.count else { throw fail("the \(field) ends early") }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func uint16(_ field: String) throws(DNSMessageError) -> UInt16 {
        guard offset + 2 <= bytes.count else { throw fail("the \(field) ends early") }
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    mutating func uint32(_ field: String) throws(DNSMessageError) -> UInt32 {
        guard offset + 4 <= bytes.count else { throw fail("the \(field) ends early") }
        defer { offset += 4 }
        return UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }

    mutating func take(_ count: Int, _ field: String) throws(DNSMessageError) -> ArraySlice<UInt8> {
        guard count >= 0, offset + count <= bytes.count else { throw fail("the \(field) ends early") }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    /// A domain name, following compression pointers. A pointer must point before the label it is
    /// in, so a loop of pointers cannot make the reader spin.
    mutating func name(_ field: String) throws(DNSMessageError) -> String {
        var labels: [String] = []
        var position = offset
        var resumeAt: Int?
        var wireLength = 1
        var lowestJumpTarget = offset
        while true {
            guard position < bytes.count else { throw fail("a name in the \(field) ends early", at: position) }
            let length = Int(bytes[position])
            switch length & 0xC0 {
            case 0x00:
                if length == 0 {
                    offset = resumeAt ?? position + 1
                    return labels.isEmpty ? "." : labels.joined(separator: ".")
                }
                guard position + 1 + length <= bytes.count else { throw fail("a label in the \(field) ends early", at: position) }
                wireLength += length + 1
                guard wireLength <= Self.maximumNameBytes else { throw fail("a name in the \(field) is longer than 255 bytes", at: position) }
                labels.append(DNSPresentation.label(bytes[position + 1..<position + 1 + length]))
                position += 1 + length
            case 0xC0:
                guard position + 1 < bytes.count else { throw fail("a compression pointer in the \(field) ends early", at: position) }
                let target = (length & 0x3F) << 8 | Int(bytes[position + 1])
                guard target < lowestJumpTarget else { throw fail("a compression pointer in the \(field) does not point backwards", at: position) }
                lowestJumpTarget = target
                if resumeAt == nil { resumeAt = position + 2 }
                position = target
            default:
                throw fail("a label in the \(field) has the reserved type bits \(length >> 6)", at: position)
            }
        }
    }

    mutating func records(_ count: Int, section: String) throws(DNSMessageError) -> [DNSRecord] {
        var records: [DNSRecord] = []
        records.reserveCapacity(min(count, 64))
        for _ in 0..<count {
            records.append(try record(section))
        }
        return records
    }

    mutating func record(_ section: String) throws(DNSMessageError) -> DNSRecord {
        let owner = try name("\(section) section")
        let type = DNSRecordType(rawValue: try uint16("\(section) record"))
        let recordClass = try uint16("\(section) record")
        let ttl = try uint32("\(section) record")
        let length = Int(try uint16("\(section) record"))
        let start = offset
        guard start + length <= bytes.count else { throw fail("the data of a \(type) record in the \(section) section ends early") }
        let field = "\(type) record data"
        let data: DNSRecordData
        switch type {
        case .a:
            guard length == 4 else { throw fail("an A record has \(length) bytes of data, not 4") }
            data = .a(DNSPresentation.ipv4(try take(4, field)))
        case .aaaa:
            guard length == 16 else { throw fail("an AAAA record has \(length) bytes of data, not 16") }
            data = .aaaa(DNSPresentation.ipv6(try take(16, field)))
        case .cname, .ns, .ptr:
            data = .name(try name(field))
        case .mx:
            let preference = try uint16(field)
            data = .mx(preference: preference, exchange: try name(field))
        case .txt:
            var strings: [String] = []
            while offset < start + length {
                let count = Int(try uint8(field))
                guard offset + count <= start + length else { throw fail("a TXT string runs past its record") }
                strings.append(String(decoding: try take(count, field), as: UTF8.self))
            }
            data = .txt(strings)
        case .soa:
            let primary = try name(field)
            let mailbox = try name(field)
            data = .soa(DNSStartOfAuthority(
                primary: primary, mailbox: mailbox, serial: try uint32(field), refresh: try uint32(field),
                retry: try uint32(field), expire: try uint32(field), minimum: try uint32(field)))
        case .srv:
            let priority = try uint16(field)
            let weight = try uint16(field)
            let port = try uint16(field)
            data = .srv(priority: priority, weight: weight, port: port, target: try name(field))
        case .caa:
            let flags = try uint8(field)
            let tagLength = Int(try uint8(field))
            guard tagLength >= 1, offset + tagLength <= start + length else { throw fail("a CAA tag length of \(tagLength) does not fit its record") }
            let tag = String(decoding: try take(tagLength, field), as: UTF8.self)
            let value = String(decoding: try take(start + length - offset, field), as: UTF8.self)
            data = .caa(flags: flags, tag: tag, value: value)
        default:
            data = .other(Array(try take(length, field)))
        }
        guard offset == start + length else {
            throw fail("a \(type) record's data is \(length) bytes but its fields take \(offset - start)")
        }
        return DNSRecord(name: owner, type: type, recordClass: recordClass, ttl: ttl, data: data)
    }
}
