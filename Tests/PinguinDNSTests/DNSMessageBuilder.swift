/// Builds DNS responses byte by byte for the reader's tests (names uncompressed unless a
/// pointer is written by hand).
struct DNSMessageBuilder {
    var bytes: [UInt8] = []

    init(id: UInt16 = 0x1234, flags: UInt16 = 0x8580, questions: Int = 1, answers: Int, authorities: Int = 0, additionals: Int = 0) {
        for value in [id, flags, UInt16(questions), UInt16(answers), UInt16(authorities), UInt16(additionals)] { u16(value) }
    }

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u16(_ value: UInt16) { bytes += [UInt8(value >> 8), UInt8(value & 0xFF)] }
    mutating func u32(_ value: UInt32) { bytes += [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }

    mutating func name(_ text: String) {
        for label in text.split(separator: ".") {
            u8(UInt8(label.utf8.count))
            bytes += label.utf8
        }
        u8(0)
    }

    mutating func question(_ name: String, type: UInt16) {
        self.name(name)
        u16(type)
        u16(1)
    }

    /// A record whose data `write` appends; the length is filled in afterwards.
    mutating func record(_ name: String, type: UInt16, ttl: UInt32 = 300, recordClass: UInt16 = 1, _ write: (inout DNSMessageBuilder) -> Void) {
        self.name(name)
        u16(type)
        u16(recordClass)
        u32(ttl)
        let lengthAt = bytes.count
        u16(0)
        write(&self)
        let length = bytes.count - lengthAt - 2
        bytes[lengthAt] = UInt8(length >> 8)
        bytes[lengthAt + 1] = UInt8(length & 0xFF)
    }
}
