import Glibc

/// An IP address to ping: its family and network-order bytes.
struct PingAddress: Hashable, Sendable, CustomStringConvertible {
    var v6: Bool
    var bytes: [UInt8]

    init?(_ text: String) {
        var v4 = in_addr()
        var v6address = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            v6 = false
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
        } else if inet_pton(AF_INET6, text, &v6address) == 1 {
            v6 = true
            bytes = withUnsafeBytes(of: &v6address) { Array($0) }
        } else {
            return nil
        }
    }

    init(v6: Bool, bytes: [UInt8]) {
        self.v6 = v6
        self.bytes = bytes
    }

    var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        bytes.withUnsafeBytes { raw in _ = inet_ntop(v6 ? AF_INET6 : AF_INET, raw.baseAddress, &buffer, socklen_t(buffer.count)) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
