import Foundation

/// A deliberately plain socket client for tests: raw bytes in, raw lines out, on a thread of its
/// own (blocking I/O never runs on the cooperative pool).
enum RawSocketClient {
    enum Target: Sendable {
        case unix(String)
        case tcp(port: Int)
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Connects, writes each chunk (in separate writes), optionally closes the write side, then
    /// reads until EOF or until `lines` lines arrived, within `timeout` seconds.
    static func exchange(
        _ target: Target, chunks: [[UInt8]], shutdownWrite: Bool = true, lines wanted: Int? = nil, timeout: Double = 10
    ) async throws -> (lines: [String], closedByServer: Bool) {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                do {
                    continuation.resume(returning: try run(target, chunks: chunks, shutdownWrite: shutdownWrite, wanted: wanted, timeout: timeout))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            thread.start()
        }
    }

    static func connect(_ target: Target) throws -> Int32 {
        switch target {
        case .unix(let path):
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                let bytes = Array(path.utf8)
                for (index, byte) in bytes.enumerated() where index < raw.count - 1 { raw[index] = byte }
            }
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard result == 0 else { close(fd); throw Failure(description: "connect \(path): \(String(cString: strerror(errno)))") }
            return fd
        case .tcp(let port):
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard result == 0 else { close(fd); throw Failure(description: "connect :\(port): \(String(cString: strerror(errno)))") }
            return fd
        }
    }

    private static func run(_ target: Target, chunks: [[UInt8]], shutdownWrite: Bool, wanted: Int?, timeout: Double) throws -> ([String], Bool) {
        let fd = try connect(target)
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        sending: for chunk in chunks {
            var offset = 0
            while offset < chunk.count {
                let written = chunk[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if written < 0, errno == EPIPE || errno == ECONNRESET { break sending }  // the server hung up: read what it said
                guard written > 0 else { throw Failure(description: "send: \(String(cString: strerror(errno)))") }
                offset += written
            }
        }
        if shutdownWrite { shutdown(fd, Int32(SHUT_WR)) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var closed = false
        while true {
            if let wanted, received.filter({ $0 == 0x0A }).count >= wanted { break }
            let count = recv(fd, &buffer, buffer.count, 0)
            if count == 0 { closed = true; break }
            if count < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK { throw Failure(description: "timed out after \(received.count) bytes") }
                if errno == ECONNRESET { closed = true; break }
                throw Failure(description: "recv: \(String(cString: strerror(errno)))")
            }
            received.append(contentsOf: buffer[0..<count])
        }
        let lines = String(decoding: received, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        return (lines, closed)
    }
}
