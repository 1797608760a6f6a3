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
