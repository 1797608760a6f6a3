/// ICMP and ICMPv6 echo messages, built and read without any IO.
enum ICMPPacket {
    static let echoRequestV4: UInt8 = 8
    static let echoReplyV4: UInt8 = 0
    static let echoRequestV6: UInt8 = 128
    static let echoReplyV6: UInt8 = 129
    /// The per-check cookie at the start of each payload.
    static let cookieBytes = 8

    /// An echo request: type, code 0, checksum (IPv4 only: the kernel fills ICMPv6's), identifier,
    /// sequence, then the cookie and filler up to `payloadBytes`.
    static func echoRequest(v6: Bool, identifier: UInt16, sequence: UInt16, cookie: [UInt8], payloadBytes: Int) -> [UInt8] {
        var packet: [UInt8] = [v6 ? echoRequestV6 : echoRequestV4, 0, 0, 0,
                               UInt8(identifier >> 8), UInt8(identifier & 0xFF), UInt8(sequence >> 8), UInt8(sequence & 0xFF)]
        var payload = cookie.prefix(payloadBytes)
        while payload.count < payloadBytes { payload.append(UInt8(truncatingIfNeeded: 0x20 + payload.count % 64)) }
        packet.append(contentsOf: payload)
        if !v6 {
            let sum = checksum(packet)
            packet[2] = UInt8(sum >> 8)
            packet[3] = UInt8(sum & 0xFF)
        }
        return packet
    }

    struct Reply: Equatable {
        var identifier: UInt16
        var sequence: UInt16
        var cookie: [UInt8]
    }

    /// Reads an echo reply; `ipHeader` when the bytes start with an IPv4 header (raw IPv4 sockets).
    static func parseReply(_ bytes: UnsafeRawBufferPointer, v6: Bool, ipHeader: Bool) -> Reply? {
        var offset = 0
        if ipHeader {
            guard bytes.count >= 20, bytes[0] >> 4 == 4 else { return nil }
            offset = Int(bytes[0] & 0x0F) * 4
        }
        guard bytes.count >= offset + 8, bytes[offset] == (v6 ? echoReplyV6 : echoReplyV4), bytes[offset + 1] == 0 else { return nil }
        let identifier = UInt16(bytes[offset + 4]) << 8 | UInt16(bytes[offset + 5])
        let sequence = UInt16(bytes[offset + 6]) << 8 | UInt16(bytes[offset + 7])
        let cookieStart = offset + 8
        let cookie = Array(bytes[cookieStart..<min(cookieStart + cookieBytes, bytes.count)])
        return Reply(identifier: identifier, sequence: sequence, cookie: cookie)
    }

    /// The Internet checksum (RFC 1071).
    static func checksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var index = 0
        while index + 1 < bytes.count {
            sum += UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
            index += 2
        }
        if index < bytes.count { sum += UInt32(bytes[index]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }
}
