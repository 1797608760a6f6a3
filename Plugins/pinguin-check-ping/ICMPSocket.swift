import Foundation
import Glibc
import PinguinCheckerKit
import Synchronization

/// One ICMP socket (datagram where `net.ipv4.ping_group_range` allows, raw otherwise) with a
/// thread of its own that receives every reply and hands it to `onReply`.
///
/// `@unchecked Sendable`: `descriptor` and the flags never change after `init`; sends are single
/// `sendmsg` calls, safe from any thread; only the receive thread reads.
final class ICMPSocket: @unchecked Sendable {
    enum Kind: String, Sendable { case datagram, raw }

    typealias ReplyHandler = @Sendable (_ socket: ICMPSocket, _ reply: ICMPPacket.Reply, _ from: PingAddress, _ at: UInt64) -> Void

    let descriptor: Int32
    let v6: Bool
    let kind: Kind
    let dontFragment: Bool
    /// The identifier written in raw requests (the kernel sets its own on datagram sockets).
    let identifier = UInt16(truncatingIfNeeded: getpid())

    private init(descriptor: Int32, v6: Bool, kind: Kind, dontFragment: Bool) {
        self.descriptor = descriptor
        self.v6 = v6
        self.kind = kind
        self.dontFragment = dontFragment
    }

    /// Opens a socket for `v6` or fails with a CheckError of kind `permission`.
    static func open(v6: Bool, dontFragment: Bool, onReply: @escaping ReplyHandler) throws(CheckError) -> ICMPSocket {
        let family = v6 ? AF_INET6 : AF_INET
        let proto = Int32(v6 ? Int32(IPPROTO_ICMPV6) : Int32(IPPROTO_ICMP))
        var kind = Kind.datagram
        var descriptor = socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), proto)
        let datagramError = errno
        if descriptor < 0 {
            kind = .raw
            descriptor = socket(family, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), proto)
        }
        guard descriptor >= 0 else {
            let rawError = errno
            let range = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ping_group_range", encoding: .utf8))?
                .split(whereSeparator: \.isWhitespace).joined(separator: " ") ?? "?"
            throw CheckError("cannot open an ICMP\(v6 ? "v6" : "") socket: datagram ICMP sockets are not allowed for group \(getgid()) "
                             + "(net.ipv4.ping_group_range = \(range); \(String(cString: strerror(datagramError)))) and raw sockets need CAP_NET_RAW "
                             + "(\(String(cString: strerror(rawError))))", kind: "permission")
        }
        if dontFragment {
            var value: Int32 = v6 ? 2 : 2  // IPV6_PMTUDISC_DO / IP_PMTUDISC_DO: set DF, never fragment locally
            if v6 {
                setsockopt(descriptor, Int32(IPPROTO_IPV6), IPV6_MTU_DISCOVER, &value, socklen_t(MemoryLayout<Int32>.size))
                var on: Int32 = 1
                setsockopt(descriptor, Int32(IPPROTO_IPV6), IPV6_DONTFRAG, &on, socklen_t(MemoryLayout<Int32>.size))
            } else {
                setsockopt(descriptor, Int32(IPPROTO_IP), IP_MTU_DISCOVER, &value, socklen_t(MemoryLayout<Int32>.size))
            }
        } else {
            var value: Int32 = 0  // IP_PMTUDISC_DONT: no DF, fragment when needed
            setsockopt(descriptor, v6 ? Int32(IPPROTO_IPV6) : Int32(IPPROTO_IP), v6 ? IPV6_MTU_DISCOVER : IP_MTU_DISCOVER, &value, socklen_t(MemoryLayout<Int32>.size))
        }
        if v6 && kind == .raw {
            // Only echo replies reach this socket (ICMP6_FILTER: a bit set blocks that type).
            var filter = [UInt32](repeating: 0xFFFF_FFFF, count: 8)
            let type = Int(ICMPPacket.echoReplyV6)
            filter[type >> 5] &= ~(UInt32(1) << UInt32(type & 31))
            setsockopt(descriptor, Int32(IPPROTO_ICMPV6), 1 /* ICMP6_FILTER */, &filter, socklen_t(32))
        }
        var buffer: Int32 = 1 << 20
        setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &buffer, socklen_t(MemoryLayout<Int32>.size))
        let socket = ICMPSocket(descriptor: descriptor, v6: v6, kind: kind, dontFragment: dontFragment)
        let thread = Thread { socket.receiveLoop(onReply) }
        thread.start()
        return socket
    }

    /// Sends one packet to `address` with `ttl` (IP_TTL / IPV6_HOPLIMIT per packet); returns errno or 0.
    func send(_ packet: [UInt8], to address: PingAddress, ttl: Int32?) -> Int32 {
        var storage = sockaddr_storage()
        let length: socklen_t
        if v6 {
            var target = sockaddr_in6()
            target.sin6_family = sa_family_t(AF_INET6)
            withUnsafeMutableBytes(of: &target.sin6_addr) { $0.copyBytes(from: address.bytes) }
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: target, as: sockaddr_in6.self) }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        } else {
            var target = sockaddr_in()
            target.sin_family = sa_family_t(AF_INET)
            withUnsafeMutableBytes(of: &target.sin_addr) { $0.copyBytes(from: address.bytes) }
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: target, as: sockaddr_in.self) }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
        }
        // One cmsghdr carrying an int: the TTL or hop limit.
        let controlLength = ttl == nil ? 0 : MemoryLayout<cmsghdr>.size + MemoryLayout<Int>.size
        var control = [UInt8](repeating: 0, count: max(controlLength, 1))
        if let ttl {
            var header = cmsghdr()
            header.cmsg_len = MemoryLayout<cmsghdr>.size + MemoryLayout<Int32>.size
            header.cmsg_level = v6 ? Int32(IPPROTO_IPV6) : Int32(IPPROTO_IP)
            header.cmsg_type = v6 ? IPV6_HOPLIMIT : IP_TTL
            control.withUnsafeMutableBytes { raw in
                raw.storeBytes(of: header, as: cmsghdr.self)
                raw.storeBytes(of: ttl, toByteOffset: MemoryLayout<cmsghdr>.size, as: Int32.self)
            }
        }
        var packet = packet
        return packet.withUnsafeMutableBytes { payload in
            var vector = iovec(iov_base: payload.baseAddress, iov_len: payload.count)
            return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                withUnsafeMutablePointer(to: &storage) { storagePointer in
                    control.withUnsafeMutableBytes { controlBytes in
                        var message = msghdr()
                        message.msg_name = UnsafeMutableRawPointer(storagePointer)
                        message.msg_namelen = length
                        message.msg_iov = vectorPointer
                        message.msg_iovlen = 1
                        if controlLength > 0 {
                            message.msg_control = controlBytes.baseAddress
                            message.msg_controllen = controlLength
                        }
                        while true {
                            if sendmsg(descriptor, &message, 0) >= 0 { return 0 }
                            if errno != EINTR { return errno }
                        }
                    }
                }
            }
        }
    }

    private func receiveLoop(_ onReply: ReplyHandler) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let count = buffer.withUnsafeMutableBytes { raw in
                withUnsafeMutablePointer(to: &storage) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(descriptor, raw.baseAddress, raw.count, 0, $0, &length) }
                }
            }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                PluginLog.error("ICMP receive failed: \(String(cString: strerror(errno)))")
                usleep(100_000)
                continue
            }
            let at = Self.monotonicNanoseconds()
            let source: PingAddress
            if v6 {
                let address = withUnsafeBytes(of: &storage) { $0.load(as: sockaddr_in6.self) }
                source = PingAddress(v6: true, bytes: withUnsafeBytes(of: address.sin6_addr) { Array($0) })
            } else {
                let address = withUnsafeBytes(of: &storage) { $0.load(as: sockaddr_in.self) }
                source = PingAddress(v6: false, bytes: withUnsafeBytes(of: address.sin_addr) { Array($0) })
            }
            let reply = buffer.withUnsafeBytes { raw in
                ICMPPacket.parseReply(UnsafeRawBufferPointer(rebasing: raw[0..<count]), v6: v6, ipHeader: !v6 && kind == .raw)
            }
            guard let reply else { continue }
            if kind == .raw && reply.identifier != identifier { continue }
            onReply(self, reply, source, at)
        }
    }

    static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}
