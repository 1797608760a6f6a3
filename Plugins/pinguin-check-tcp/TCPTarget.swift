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

/// Why a name did not resolve, as the check's error kind and message.
struct ResolveFailure: Error {
    var kind: String
    var message: String
}

/// getaddrinfo on NIO's thread pool (it blocks; the event loop must not).
enum AddressResolver {
    static func resolve(_ host: String, port: Int, version: TCPConfig.IPVersion) async throws -> SocketAddress {
        let found: Result<[SocketAddress], ResolveFailure> = try await NIOThreadPool.singleton.runIfActive {
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            hints.ai_protocol = Int32(IPPROTO_TCP)
            hints.ai_family = version == .ipv4 ? AF_INET : version == .ipv6 ? AF_INET6 : AF_UNSPEC
            var list: UnsafeMutablePointer<addrinfo>?
            let status = getaddrinfo(host, String(port), &hints, &list)
            guard status == 0 else {
                let reason = String(cString: gai_strerror(status))
                switch status {
                case EAI_NONAME:
                    return .failure(ResolveFailure(kind: "dns_no_such_host", message: "\(host) does not resolve\(version == .ipv4 ? " to an IPv4 address" : version == .ipv6 ? " to an IPv6 address" : ""): \(reason)"))
                case EAI_AGAIN:
                    return .failure(ResolveFailure(kind: "dns_failure", message: "resolving \(host) failed for now: \(reason)"))
                default:
                    return .failure(ResolveFailure(kind: "dns_failure", message: "resolving \(host) failed: \(reason)"))
                }
            }
            defer { freeaddrinfo(list) }
            var addresses: [SocketAddress] = []
            var entry = list
            while let current = entry {
                if let pointer = current.pointee.ai_addr {
                    switch current.pointee.ai_family {
                    case AF_INET:
                        pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { addresses.append(SocketAddress($0.pointee, host: host)) }
                    case AF_INET6:
                        pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { addresses.append(SocketAddress($0.pointee, host: host)) }
                    default: break
                    }
                }
                entry = current.pointee.ai_next
            }
            return .success(addresses)
        }
        let addresses = try found.get()
        let chosen: SocketAddress?
        switch version {
        case .any, .ipv4, .ipv6: chosen = addresses.first
        case .preferIPv4: chosen = addresses.first { $0.protocol == .inet } ?? addresses.first
        case .preferIPv6: chosen = addresses.first { $0.protocol == .inet6 } ?? addresses.first
        }
        guard let chosen else { throw ResolveFailure(kind: "dns_no_address", message: "\(host) has no usable address") }
        return chosen
    }
}
