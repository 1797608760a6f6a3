import Foundation

/// Where and how to connect, from a URL:
/// `redis://[[username]:password@]host[:port][/database]` or
/// `unix:///path/to/redis.sock[?db=N&password=…]`.
///
/// Query options for both forms: `connect_timeout` and `command_timeout` (seconds, decimals allowed).
/// `description` never shows the password.
public struct RedisConfiguration: Sendable, CustomStringConvertible {
    public enum Endpoint: Sendable, Hashable {
        case tcp(host: String, port: Int)
        case unix(path: String)
    }

    public var endpoint: Endpoint
    public var username: String?
    public var password: String?
    public var database = 0
    /// How long one connection attempt may take. Default 5 s.
    public var connectTimeout: Duration = .seconds(5)
    /// How long a command may wait for its answer, on top of any `BLOCK` time it asks for. Default 10 s.
    public var commandTimeout: Duration = .seconds(10)
    /// Sent as `CLIENT SETNAME` so the connection shows up in `CLIENT LIST`. Default "pinguin".
    public var clientName: String? = "pinguin"

    public init(endpoint: Endpoint) {
        self.endpoint = endpoint
    }

    public init(url string: String) throws(RedisError) {
        func invalid(_ reason: String) -> RedisError {
            RedisError(code: .invalidConfiguration, message: "invalid Redis URL \(Self.redacted(string)): \(reason)")
        }
        guard let components = URLComponents(string: string), let scheme = components.scheme?.lowercased() else {
            throw invalid("not a URL")
        }
        let query = Dictionary(
            (components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { _, last in last })
        switch scheme {
        case "redis":
            guard let host = components.host, !host.isEmpty else { throw invalid("the host is missing") }
            let port = components.port ?? 6379
            guard (1...65535).contains(port) else { throw invalid("port \(port) is out of range") }
            endpoint = .tcp(host: host, port: port)
            let path = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            if !path.isEmpty {
                guard let database = Int(path), database >= 0 else { throw invalid("database \"\(path)\" is not a number") }
                self.database = database
            }
        case "unix":
            guard !components.path.isEmpty else { throw invalid("the socket path is missing") }
            endpoint = .unix(path: components.path)
        case "rediss":
            throw invalid("TLS (rediss://) is not supported; use a local TLS proxy or a Unix socket")
        default:
            throw invalid("the scheme must be redis:// or unix://")
        }
        if let user = components.user, !user.isEmpty { username = user.removingPercentEncoding ?? user }
        if let password = components.password { self.password = password.removingPercentEncoding ?? password }
        if let password = query["password"] { self.password = password }
        if let db = query["db"] {
            guard let database = Int(db), database >= 0 else { throw invalid("db \"\(db)\" is not a number") }
            self.database = database
        }
        if let value = query["connect_timeout"] {
            guard let seconds = Double(value), seconds > 0 else { throw invalid("connect_timeout must be a positive number of seconds") }
            connectTimeout = .milliseconds(Int64(seconds * 1000))
        }
        if let value = query["command_timeout"] {
            guard let seconds = Double(value), seconds > 0 else { throw invalid("command_timeout must be a positive number of seconds") }
            commandTimeout = .milliseconds(Int64(seconds * 1000))
        }
    }

    public var description: String {
        let auth = password == nil ? "" : "\(username ?? ""):***@"
        switch endpoint {
        case .tcp(let host, let port):
            return "redis://\(auth)\(host):\(port)/\(database)"
        case .unix(let path):
            return "unix://\(path)?db=\(database)"
        }
    }

    /// The URL with anything between `://` and `@` replaced, for error messages.
    static func redacted(_ url: String) -> String {
        guard let scheme = url.range(of: "://"), let at = url[scheme.upperBound...].lastIndex(of: "@") else {
            return url.contains("password=") ? "(a URL with a password)" : url
        }
        return String(url[..<scheme.upperBound]) + "***@" + String(url[url.index(after: at)...])
    }
}
