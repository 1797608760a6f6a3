import Foundation
import PinguinWire

#if canImport(Glibc)
import Glibc
#endif

/// A blocking JSON-RPC client: one request line out, one answer line back.
final class LineClient {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var nextID = 0

    init(unixSocket path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw CLIFailure(message: "socket path too long: \(path)", status: 2)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw CLIFailure(message: "cannot reach pinguind at \(path): \(reason) (is it running? set PINGUIN_SOCKET or --socket)", status: 3)
        }
    }

    init(tcpHost host: String, port: Int) throws {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else {
            throw CLIFailure(message: "cannot resolve \(host)", status: 3)
        }
        defer { freeaddrinfo(list) }
        fd = socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol)
        guard connect(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw CLIFailure(message: "cannot reach pinguind at \(host):\(port): \(reason)", status: 3)
        }
    }

    deinit {
        close(fd)
    }

    /// Calls `method`; returns its result or throws the server's error as a one-line failure.
    func call(_ method: String, params: JSONValue) throws -> JSONValue {
        nextID += 1
        var request = JSONObject()
        request.append("jsonrpc", .string("2.0"))
        request.append("method", .string(method))
        request.append("params", params)
        request.append("id", .int(nextID))
        var bytes = JSONWriter.bytes(.object(request))
        bytes.append(0x0A)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw CLIFailure(message: "the connection to pinguind broke", status: 3) }
            offset += written
        }
        let answer = try JSONParser.parse(try readLine())
        guard let object = answer.objectValue else { throw CLIFailure(message: "unexpected answer from pinguind", status: 3) }
        if let error = object["error"]?.objectValue {
            let message = error["message"]?.stringValue ?? "error"
            let kind = error["data"]?.objectValue?["kind"]?.stringValue.map { " [\($0)]" } ?? ""
            throw CLIFailure(message: message + kind, status: 1)
        }
        return object["result"] ?? .null
    }

    private func readLine() throws -> [UInt8] {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                return line
            }
            let count = recv(fd, &chunk, chunk.count, 0)
            guard count > 0 else { throw CLIFailure(message: "pinguind closed the connection", status: 3) }
            buffer.append(contentsOf: chunk[0..<count])
        }
    }
}
