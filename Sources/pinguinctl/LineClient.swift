import COpenSSL
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
    /// The TLS session over `fd`, when the connection uses TLS.
    private var tls: TLSSession?

    /// Connects as `settings` say, authenticating on TCP.
    static func connect(_ settings: ConnectionSettings) throws -> LineClient {
        switch settings.endpoint {
        case .unix(let path):
            return try LineClient(unixSocket: path)
        case .tcp(let host, let port):
            let client = try LineClient(tcpHost: host, port: port)
            if let options = settings.tls {
                client.tls = try TLSSession(fd: client.fd, host: host, options: options, address: client.address)
            }
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
            let written = try bytes[offset...].withUnsafeBytes { try write($0) }
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
            let count = try chunk.withUnsafeMutableBytes { try read($0) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                // A TLS listener drops a plain-text client without a word; say what may be wrong.
                let hint = tls == nil && !address.hasPrefix("/") ? " (if its TCP listener uses TLS, pass --tls)" : ""
                throw CLIFailure("pinguind at \(address) closed the connection\(hint)", code: .unreachable)
            }
            buffer.append(contentsOf: chunk[0..<count])
        }
    }

    /// Writes some of `bytes`, over TLS when there is a session; the count written, or -1.
    private func write(_ bytes: UnsafeRawBufferPointer) throws -> Int {
        if let tls { return try tls.write(bytes) }
        return send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
    }

    /// Reads into `buffer`; 0 at the end, -1 on an error (errno says which).
    private func read(_ buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if let tls { return try tls.read(buffer) }
        return recv(fd, buffer.baseAddress, buffer.count, 0)
    }
}

/// A TLS client session (OpenSSL) over a connected socket: TLS 1.2 or newer, the server's
/// certificate verified against `caFile` (or the system's CAs) and its name checked.
final class TLSSession {
    private let context: OpaquePointer
    private let ssl: OpaquePointer
    private var connected = false

    init(fd: Int32, host: String, options: ConnectionSettings.TLS, address: String) throws {
        guard let context = SSL_CTX_new(TLS_client_method()) else { throw CLIFailure("TLS: \(Self.lastError())", code: .unreachable) }
        self.context = context
        guard pinguin_ssl_ctx_minimum_tls12(context) == 1 else {
            SSL_CTX_free(context)
            throw CLIFailure("TLS: \(Self.lastError())", code: .unreachable)
        }
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        let loaded = options.caFile.map { SSL_CTX_load_verify_locations(context, $0, nil) } ?? SSL_CTX_set_default_verify_paths(context)
        guard loaded == 1 else {
            SSL_CTX_free(context)
            throw CLIFailure.usage("TLS: cannot load the CA file \(options.caFile ?? "(system)"): \(Self.lastError())")
        }
        guard let ssl = SSL_new(context) else {
            SSL_CTX_free(context)
            throw CLIFailure("TLS: \(Self.lastError())", code: .unreachable)
        }
        self.ssl = ssl
        let name = options.serverName ?? host
        SSL_set_fd(ssl, fd)
        // The name to check: an address is matched against the certificate's IP entries.
        var isAddress = in6_addr()
        if inet_pton(AF_INET, name, &isAddress) == 1 || inet_pton(AF_INET6, name, &isAddress) == 1 {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name)
        } else {
            _ = pinguin_ssl_set_server_name(ssl, name)
            SSL_set1_host(ssl, name)
        }
        // From here on every property is set, so a throw runs deinit, which frees both.
        guard SSL_connect(ssl) == 1 else {
            let verify = SSL_get_verify_result(ssl)
            let reason = verify != X509_V_OK ? String(cString: X509_verify_cert_error_string(verify)) : Self.lastError()
            throw CLIFailure("TLS with pinguind at \(address) failed: \(reason)", code: .unreachable)
        }
        connected = true
    }

    deinit {
        if connected { SSL_shutdown(ssl) }
        SSL_free(ssl)
        SSL_CTX_free(context)
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws -> Int {
        let written = SSL_write(ssl, bytes.baseAddress, Int32(bytes.count))
        return written > 0 ? Int(written) : -1
    }

    func read(_ buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let count = SSL_read(ssl, buffer.baseAddress, Int32(buffer.count))
        if count > 0 { return Int(count) }
        return SSL_get_error(ssl, count) == SSL_ERROR_ZERO_RETURN ? 0 : (count == 0 ? 0 : -1)
    }

    private static func lastError() -> String {
        let code = ERR_get_error()
        guard code != 0 else { return "unknown error" }
        var text = [UInt8](repeating: 0, count: 256)
        text.withUnsafeMutableBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { ERR_error_string_n(code, $0.baseAddress, $0.count) }
        }
        return String(decoding: text.prefix { $0 != 0 }, as: UTF8.self)
    }
}
