import CLibPQ
import Foundation

/// Where and how to connect: a libpq connection string, either a URL
/// (`postgresql://user:password@127.0.0.1:5432/pinguin?sslmode=disable`) or key/value pairs
/// (`host=127.0.0.1 port=5432 dbname=pinguin user=pinguin`). libpq parses both, so every libpq
/// option and environment default (`PGHOST`, `PGPASSFILE`…) works as documented for libpq.
///
/// `description` shows the target without the password.
public struct PostgresConfiguration: Sendable, CustomStringConvertible {
    /// Every option libpq recognised, keyword and value, in libpq's order (password included).
    private(set) var options: [(keyword: String, value: String)]

    /// How long one connection attempt may take (libpq's `connect_timeout`); the string's own value wins.
    public var connectTimeoutSeconds: Int = 10
    /// `application_name` shown in `pg_stat_activity`, unless the string sets one.
    public var applicationName: String = "pinguin"

    /// Parses `connectionString`; the error says what libpq rejected, with any password removed.
    public init(_ connectionString: String) throws(PostgresError) {
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let parsed = PQconninfoParse(connectionString, &errorMessage) else {
            var reason = "libpq could not parse it"
            if let errorMessage {
                reason = String(cString: errorMessage).trimmingTrailingNewlines()
                PQfreemem(errorMessage)
            }
            throw PostgresError(
                code: .invalidConfiguration,
                message: "invalid PostgreSQL connection string: \(Self.redact(reason, in: connectionString))"
            )
        }
        defer { PQconninfoFree(parsed) }
        var options: [(keyword: String, value: String)] = []
        var cursor = parsed
        while let keyword = cursor.pointee.keyword {
            if let value = cursor.pointee.val {
                options.append((String(cString: keyword), String(cString: value)))
            }
            cursor += 1
        }
        self.options = options
        // libpq checks ports only when it connects; a typo should fail here, by name.
        if let ports = option("port") {
            for port in ports.split(separator: ",", omittingEmptySubsequences: false) {
                guard let number = Int(port), (1...65535).contains(number) else {
                    throw PostgresError(code: .invalidConfiguration, message: "invalid PostgreSQL connection string: port \"\(port)\" is not a number from 1 to 65535")
                }
            }
        }
    }

    /// A copy with one libpq option set (e.g. `dbname` to reach another database on the same server).
    public func setting(_ keyword: String, to value: String) -> PostgresConfiguration {
        var copy = self
        copy.options = options.filter { $0.keyword != keyword } + [(keyword, value)]
        return copy
    }

    public func option(_ keyword: String) -> String? {
        options.last { $0.keyword == keyword }?.value
    }

    public var host: String { option("host") ?? option("hostaddr") ?? "localhost" }
    public var port: Int { option("port").flatMap { Int($0) } ?? 5432 }
    public var user: String? { option("user") }
    public var database: String? { option("dbname") }

    public var description: String {
        "postgresql://\(user.map { "\($0)@" } ?? "")\(host):\(port)/\(database ?? "")"
    }

    /// The keyword/value pairs handed to `PQconnectdbParams`.
    var connectionParameters: [(String, String)] {
        var parameters = options.filter { $0.keyword != "client_encoding" }.map { ($0.keyword, $0.value) }
        if option("connect_timeout") == nil {
            parameters.append(("connect_timeout", String(connectTimeoutSeconds)))
        }
        if option("application_name") == nil {
            parameters.append(("application_name", applicationName))
        }
        // The binary codecs assume UTF-8 text.
        parameters.append(("client_encoding", "UTF8"))
        return parameters
    }

    /// Removes anything that could be the password from a libpq message about `connectionString`.
    static func redact(_ message: String, in connectionString: String) -> String {
        var secrets: [Substring] = []
        if let scheme = connectionString.range(of: "://") {
            let rest = connectionString[scheme.upperBound...]
            if let at = rest.lastIndex(of: "@"), let colon = rest[..<at].firstIndex(of: ":") {
                secrets.append(rest[rest.index(after: colon)..<at])
            }
        }
        if let range = connectionString.range(of: "password=") {
            let value = connectionString[range.upperBound...].prefix { $0 != " " && $0 != "&" }
            secrets.append(value)
        }
        var redacted = message
        for secret in secrets where !secret.isEmpty {
            redacted = redacted.replacingAll(String(secret), with: "***")
        }
        return redacted
    }
}

extension String {
    func trimmingTrailingNewlines() -> String {
        var text = self
        while text.last == "\n" || text.last == "\r" { text.removeLast() }
        return text
    }

    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = self[...]
        while let range = rest.range(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
