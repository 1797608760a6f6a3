import Glibc
import NIOCore
import NIOPosix
import PinguinCheckerKit

/// `host:port` or `[v6]:port`, split; `address` is set when the host is an IP literal (no DNS then).
struct TCPTarget: Sendable {
    var host: String
    var port: Int
    var address: SocketAddress?

    init(_ target: String) throws(CheckError) {
        let hostPart: Substring
        let portPart: Substring
        if target.hasPrefix("[") {
            guard let close = target.firstIndex(of: "]"), target[target.index(after: close)...].hasPrefix(":") else {
                throw .invalidConfig("target must be host:port or [ipv6]:port")
            }
            hostPart = target[target.index(after: target.startIndex)..<close]
            portPart = target[target.index(close, offsetBy: 2)...]
        } else {
            guard let colon = target.lastIndex(of: ":"), !target[..<colon].contains(":") else {
                throw .invalidConfig("target must be host:port or [ipv6]:port")
            }
            hostPart = target[..<colon]
            portPart = target[target.index(after: colon)...]
        }
        guard !hostPart.isEmpty, let port = Int(portPart), (1...65535).contains(port) else {
            throw .invalidConfig("target must be host:port with a port from 1 to 65535")
        }
        host = String(hostPart)
        self.port = port
        address = try? SocketAddress(ipAddress: host, port: port)
        if target.hasPrefix("["), address == nil || address?.protocol != .inet6 {
            throw .invalidConfig("target \(target): \(host) is not an IPv6 address")
        }
    }
}
