import Foundation
import PinguinWire
import PinguinctlKit

#if canImport(Glibc)
import Glibc
#endif

/// A blocking JSON-RPC client: one request line out, lines back until the answer. Notifications
/// that arrive meanwhile (events) wait in `pending` for ``nextNotification()``.
final class LineClient: RPCCalling {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var nextID = 0
    private var pending: [JSONObject] = []
    private let address: String

    /// Connects as `settings` say, authenticating on TCP.
    static func connect(_ settings: ConnectionSettings) throws -> LineClient {
        switch settings.endpoint {
        case .unix(let path):
            return try LineClient(unixSocket: path)
        case .tcp(let host, let port):
            let client = try LineClient(tcpHost: host, port: port)
            if let token = settings.token {
                _ = try client.call("auth", JSONObject(["token": .string(token)]))
            }
            return client
        }
    }

    init(unixSocket path: String) throws {
        address = path
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var socketAddress = sockaddr_un()
        socketAddress.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: socketAddress.sun_path) else {
            close(fd)
            throw CLIFailure.usage("socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &socketAddress.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let result = withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw CLIFailure("cannot reach pinguind at \(path): \(reason) (is it running? set PINGUIN_SOCKET or --socket)", code: .unreachable)
        }
    }

    init(tcpHost host: String, port: Int) throws {
        address = "\(host):\(port)"
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else {
            throw CLIFailure("cannot resolve \(host)", code: .unreachable)
        }
        defer { freeaddrinfo(list) }
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        var reason = "no address"
        while let entry = candidate {
            let descriptor = socket(entry.pointee.ai_family, entry.pointee.ai_socktype, entry.pointee.ai_protocol)
            if descriptor >= 0 {
                if Glibc.connect(descriptor, entry.pointee.ai_addr, entry.pointee.ai_addrlen) == 0 {
                    fd = descriptor
                    return
                }
                reason = String(cString: strerror(errno))
                close(descriptor)
            }
            candidate = entry.pointee.ai_next
        }
        throw CLIFailure("cannot reach pinguind at \(host):\(port): \(reason)", code: .unreachable)
    }

    deinit {
        close(fd)
    }

    /// Calls `method`; returns its result or throws the server's error as a one-line failure
    /// carrying the error's kind.
    func call(_ method: String, params: JSONValue) throws -> JSONValue {
        nextID += 1
        let id = nextID
        var request = JSONObject()
        request.append("jsonrpc", .string("2.0"))
        request.append("method", .string(method))
        request.append("params", params)
        request.append("id", .int(id))
        var bytes = JSONWriter.bytes(.object(request))
        bytes.append(0x0A)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw CLIFailure("the connection to pinguind broke", code: .unreachable) }
            offset += written
        }
        while true {
            let message = try readMessage()
            if message["id"] == nil || message["id"] == .null, message["method"] != nil {
                pending.append(message)
                continue
            }
            if let error = message["error"]?.objectValue {
                throw Self.failure(error)
            }
            return message["result"] ?? .null
        }
    }

    /// The next notification the server sends (`events.event`, `events.overflow`).
    func nextNotification() throws -> JSONObject {
        if !pending.isEmpty { return pending.removeFirst() }
        while true {
            let message = try readMessage()
            if message["method"] != nil { return message }
        }
    }

    static func failure(_ error: JSONObject) -> CLIFailure {
        let message = error["message"]?.stringValue ?? "error"
        let data = error["data"]?.objectValue
        let kind = data?["kind"]?.stringValue
        var suffix = ""
        if let field = data?["field"]?.stringValue, !message.contains(field) { suffix += " (\(field))" }
        if let kind { suffix += " [\(kind)]" }
        return CLIFailure(message + suffix, code: .failed, kind: kind)
    }

    private func readMessage() throws -> JSONObject {
        let line = try readLine()
        let answer: JSONValue
        do {
            answer = try JSONParser.parse(line)
        } catch {
            throw CLIFailure("unexpected answer from pinguind: \(error)", code: .unreachable)
        }
        guard let object = answer.objectValue else { throw CLIFailure("unexpected answer from pinguind", code: .unreachable) }
        return object
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
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw CLIFailure("pinguind at \(address) closed the connection", code: .unreachable) }
            buffer.append(contentsOf: chunk[0..<count])
        }
    }
}
