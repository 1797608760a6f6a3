import Crypto
public import Foundation
public import PinguinPostgres

/// What a token may do. Each scope includes the ones below it.
public enum TokenScope: String, Sendable, Hashable, CaseIterable, Comparable {
    /// Queries only.
    case read
    /// Queries and changes to monitors, channels, maintenance windows.
    case write
    /// Everything, tokens included.
    case admin

    public static func < (a: TokenScope, b: TokenScope) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// A stored API token (never its secret: only a SHA-256 of it is stored).
public struct TokenRecord: Sendable, Hashable {
    public var id: Int64
    public var name: String
    public var scope: TokenScope
    /// The first characters of the secret, to tell tokens apart in lists.
    public var prefix: String
    public var createdBy: String
    public var createdAt: Date
    public var expiresAt: Date?
    public var revokedAt: Date?
    public var lastUsedAt: Date?
}

/// API tokens: random 256-bit secrets, shown once at creation, stored as SHA-256 hashes.
public struct TokenStore: Sendable {
    public let client: PostgresClient

    /// Every secret starts with this, so that leaked tokens are easy to scan for.
    public static let secretPrefix = "pinguin_"

    public init(client: PostgresClient) {
        self.client = client
    }

    /// A new random secret: the prefix and 43 base64url characters (32 bytes from the system's CSPRNG).
    static func newSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let base64 = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return secretPrefix + base64
    }

    static func hash(_ secret: String) -> Data {
        Data(SHA256.hash(data: Data(secret.utf8)))
    }

    static let columns = "id, name, scope, prefix, created_by, created_at, expires_at, revoked_at, last_used_at"

    static func record(_ row: PostgresRow) throws -> TokenRecord {
        TokenRecord(
            id: try row.decode(Int64.self, column: 0), name: try row.decode(String.self, column: 1),
            scope: TokenScope(rawValue: try row.decode(String.self, column: 2)) ?? .read,
            prefix: try row.decode(String.self, column: 3), createdBy: try row.decode(String.self, column: 4),
            createdAt: try row.decode(Date.self, column: 5), expiresAt: try row.decode(Date?.self, column: 6),
            revokedAt: try row.decode(Date?.self, column: 7), lastUsedAt: try row.decode(Date?.self, column: 8))
    }

    /// Creates a token; the secret is returned this once and never again.
    public func create(name: String, scope: TokenScope, expiresAt: Date?, actor: String) async throws -> (TokenRecord, secret: String) {
        let secret = Self.newSecret()
        let prefix = String(secret.dropFirst(Self.secretPrefix.count).prefix(8))
        let record = try await client.withTransaction { connection in
            let rows = try await connection.query("""
                INSERT INTO api_tokens (name, token_hash, prefix, scope, created_by, expires_at)
                VALUES ($1, $2, $3, $4, $5, $6) RETURNING \(Self.columns)
                """, [name, Self.hash(secret), prefix, scope.rawValue, actor, expiresAt])
            let record = try Self.record(rows[0])
            try await AuditLog.record(on: connection, actor: actor, action: "token.create", subjectKind: "token", subjectID: String(record.id))
            return record
        }
        return (record, secret)
    }

    /// Creates a push token: it can do one thing, `monitor.push` for `monitorID`. The secret is
    /// returned this once.
    public func createPush(monitorID: Int64, name: String, expiresAt: Date?, actor: String) async throws -> (TokenRecord, secret: String) {
        let secret = Self.newSecret()
        let prefix = String(secret.dropFirst(Self.secretPrefix.count).prefix(8))
        let record = try await client.withTransaction { connection in
            let rows = try await connection.query("""
                INSERT INTO api_tokens (name, token_hash, prefix, scope, monitor_id, created_by, expires_at)
                VALUES ($1, $2, $3, 'push', $4, $5, $6) RETURNING \(Self.columns)
                """, [name, Self.hash(secret), prefix, monitorID, actor, expiresAt])
            let record = try Self.record(rows[0])
            try await AuditLog.record(on: connection, actor: actor, action: "token.create", subjectKind: "token", subjectID: String(record.id),
                                      detailsJSON: "{\"scope\":\"push\",\"monitor_id\":\(monitorID)}")
            return record
        }
        return (record, secret)
    }

    /// The monitor a push token may push to, and the token's id, if it is valid now; marks it used.
    public func verifyPush(_ secret: String) async throws -> (tokenID: Int64, monitorID: Int64)? {
        guard secret.hasPrefix(Self.secretPrefix), secret.count < 200 else { return nil }
        let rows = try await client.query("""
            UPDATE api_tokens SET last_used_at = now()
            WHERE token_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now()) AND scope = 'push'
            RETURNING id, monitor_id
            """, [Self.hash(secret)])
        guard let row = rows.first else { return nil }
        return (try row.decode(Int64.self, column: 0), try row.decode(Int64.self, column: 1))
    }

    /// The token a secret belongs to, if it is valid now (not revoked, not expired); marks it used.
    public func verify(_ secret: String) async throws -> TokenRecord? {
        guard secret.hasPrefix(Self.secretPrefix), secret.count < 200 else { return nil }
        let rows = try await client.query("""
            UPDATE api_tokens SET last_used_at = now()
            WHERE token_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now()) AND scope <> 'push'
            RETURNING \(Self.columns)
            """, [Self.hash(secret)])
        return try rows.first.map(Self.record)
    }

    public func list() async throws -> [TokenRecord] {
        try await client.query("SELECT \(Self.columns) FROM api_tokens WHERE scope <> 'push' ORDER BY id").map(Self.record)
    }

    /// Revokes a token; false if there is no such token or it was revoked already.
    public func revoke(id: Int64, actor: String) async throws -> Bool {
        try await client.withTransaction { connection in
            let revoked = try await connection.query(
                "UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", [id]).affectedRows == 1
            if revoked {
                try await AuditLog.record(on: connection, actor: actor, action: "token.revoke", subjectKind: "token", subjectID: String(id))
            }
            return revoked
        }
    }
}
