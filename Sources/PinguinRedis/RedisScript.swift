import Synchronization

/// A Lua script run with `EVALSHA`. The first call loads it (`SCRIPT LOAD`); when the server has
/// forgotten it (`NOSCRIPT`: a restart, `SCRIPT FLUSH`, a failover) it is loaded again and the call
/// retried once, so callers never see `NOSCRIPT`.
public final class RedisScript: Sendable {
    public let source: String
    private let sha = Mutex<String?>(nil)

    public init(_ source: String) {
        self.source = source
    }

    /// The SHA1 the server reported when it last loaded the script.
    public var loadedSHA: String? { sha.withLock { $0 } }

    func load(on connection: RedisConnection) async throws -> String {
        guard let loaded = try await connection.send(RedisCommand("SCRIPT", "LOAD", source)).string else {
            throw RedisError(code: .unexpectedReply, message: "SCRIPT LOAD did not return a SHA1")
        }
        sha.withLock { $0 = loaded }
        return loaded
    }

    func evaluate(on connection: RedisConnection, keys: [any RedisArgument], arguments: [any RedisArgument]) async throws -> RedisValue {
        var current = sha.withLock { $0 }
        if current == nil { current = try await load(on: connection) }
        let result: Result<RedisValue, RedisError>
        do {
            result = .success(try await connection.send(evalCommand(sha: current!, keys: keys, arguments: arguments)))
        } catch {
            result = .failure(error)
        }
        if case .failure(let error) = result, error.serverErrorPrefix == "NOSCRIPT" {
            let reloaded = try await load(on: connection)
            return try await connection.send(evalCommand(sha: reloaded, keys: keys, arguments: arguments))
        }
        return try result.get()
    }

    private func evalCommand(sha: String, keys: [any RedisArgument], arguments: [any RedisArgument]) -> RedisCommand {
        RedisCommand("EVALSHA", arguments: [sha, keys.count] + keys + arguments)
    }
}

extension RedisClient {
    /// Runs `script` with `EVALSHA`, loading it first when the server does not have it.
    @discardableResult
    public func evaluate(_ script: RedisScript, keys: [any RedisArgument] = [], arguments: [any RedisArgument] = []) async throws -> RedisValue {
        try await withConnection { try await script.evaluate(on: $0, keys: keys, arguments: arguments) }
    }
}
