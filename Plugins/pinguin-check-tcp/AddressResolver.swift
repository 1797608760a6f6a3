import Glibc
import NIOCore
import NIOPosix

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
