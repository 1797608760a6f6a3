import Foundation
import PinguinClientKit
public import PinguinStore
public import PinguinWire
import Synchronization

/// Counts failed `auth` attempts per source address (never per token, so that nobody can lock
/// a victim's token out) and blocks an address for a while after too many.
public final class AuthThrottle: Sendable {
    /// Failures allowed before blocking. Default 5.
    public let allowedFailures: Int
    /// The first block; each further failure while counting doubles it, up to `maximumBlock`.
    public let firstBlock: Duration
    public let maximumBlock: Duration
    private let state = Mutex<[String: (failures: Int, blockedUntil: ContinuousClock.Instant?)]>([:])

    public init(allowedFailures: Int = 5, firstBlock: Duration = .seconds(1), maximumBlock: Duration = .seconds(300)) {
        self.allowedFailures = allowedFailures
        self.firstBlock = firstBlock
        self.maximumBlock = maximumBlock
    }

    /// How long `address` must still wait, or nil if it may try now.
    public func blockedFor(_ address: String) -> Duration? {
        state.withLock { entries in
            guard let until = entries[address]?.blockedUntil, until > .now else { return nil }
            return until - .now
        }
    }

    /// Throws rate_limited (-32029, with `retry_after_ms`) while `address` must wait.
    public func refuseIfBlocked(_ address: String) throws(JSONRPCError) {
        guard let wait = blockedFor(address) else { return }
        throw JSONRPCError(code: JSONRPCError.rateLimitedCode, message: "too many failed attempts from this address; retry later",
                           kind: "rate_limited", details: JSONObject(["retry_after_ms": .int(wait.wholeMilliseconds)]))
    }

    public func failed(_ address: String) {
        state.withLock { entries in
            var entry = entries[address] ?? (0, nil)
            entry.failures += 1
            if entry.failures >= allowedFailures {
                let doublings = min(entry.failures - allowedFailures, 20)
                let block = min(maximumBlock, firstBlock * (1 << doublings))
                entry.blockedUntil = .now + block
            }
            entries[address] = entry
            if entries.count > 100_000 { entries.removeAll() }  // bounded memory under a flood of addresses
        }
    }

    public func succeeded(_ address: String) {
        _ = state.withLock { $0.removeValue(forKey: address) }
    }
}

/// `auth` (the first call on a TCP connection) and `token.create/list/revoke`.
public enum AuthMethods {
    public static func register(into router: inout JSONRPCRouter, tokens: TokenStore, throttle: AuthThrottle) {
        router.register("auth", scope: nil) { request in
            await MonitorMethods.run { () throws(JSONRPCError) -> JSONValue in
                var params = try NamedParams(request.params, method: request.method)
                let secret = try params.requiredString("token", maxLength: 200)
                try params.rejectUnknown()
                let connection = RequestContext.current.connection
                try throttle.refuseIfBlocked(connection.address)
                guard let token = try await MonitorMethods.storeCall({ try await tokens.verify(secret) }) else {
                    throttle.failed(connection.address)
                    throw JSONRPCError.unauthenticated
                }
                throttle.succeeded(connection.address)
                connection.authenticate(actor: "token:\(token.id)", scope: token.scope)
                return .object(JSONObject(["token_id": .int(token.id), "name": .string(token.name), "scope": .string(token.scope.rawValue)]))
            }
        }
        router.register("token.create", scope: .admin) { request in
            await MonitorMethods.run { () throws(JSONRPCError) -> JSONValue in
                var params = try NamedParams(request.params, method: request.method)
                let name = try params.requiredString("name", maxLength: 200)
                let scopeText = try params.requiredString("scope", maxLength: 16)
                guard let scope = TokenScope(rawValue: scopeText) else {
                    throw .invalidParams("scope must be read, write or admin", field: "scope")
                }
                let expires = try params.time("expires_at")
                try params.rejectUnknown()
                if let expires, expires <= Date() { throw .invalidParams("expires_at is in the past", field: "expires_at") }
                let (record, secret) = try await MonitorMethods.storeCall {
                    try await tokens.create(name: name, scope: scope, expiresAt: expires, actor: RequestContext.current.actor)
                }
                var object = json(record).objectValue ?? JSONObject()
                object.append("token", .string(secret))
                return .object(object)
            }
        }
        router.register("token.list", scope: .admin) { request in
            await MonitorMethods.run { () throws(JSONRPCError) -> JSONValue in
                try NamedParams(request.params, method: request.method).rejectUnknown()
                let records = try await MonitorMethods.storeCall { try await tokens.list() }
                return .object(JSONObject(["tokens": .array(records.map(json))]))
            }
        }
        router.register("token.revoke", scope: .admin) { request in
            await MonitorMethods.run { () throws(JSONRPCError) -> JSONValue in
                var params = try NamedParams(request.params, method: request.method)
                let id = try params.requiredInteger("id", in: 1...Int64.max)
                try params.rejectUnknown()
                guard try await MonitorMethods.storeCall({ try await tokens.revoke(id: id, actor: RequestContext.current.actor) }) else {
                    throw JSONRPCError(code: MonitorMethods.notFoundCode, message: "no active token \(id)", kind: "not_found")
                }
                return .object(JSONObject(["revoked": .bool(true), "id": .int(id)]))
            }
        }
    }

    /// A token as the API shows it: never the secret or its hash.
    static func json(_ record: TokenRecord) -> JSONValue {
        func time(_ date: Date?) -> JSONValue { date.map { .string(RFC3339.string($0)) } ?? .null }
        return .object(JSONObject([
            "id": .int(record.id), "name": .string(record.name), "scope": .string(record.scope.rawValue),
            "prefix": .string(record.prefix), "created_by": .string(record.createdBy), "created_at": time(record.createdAt),
            "expires_at": time(record.expiresAt), "revoked_at": time(record.revokedAt), "last_used_at": time(record.lastUsedAt),
        ]))
    }
}
