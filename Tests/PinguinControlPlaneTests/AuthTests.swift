import Foundation
import PinguinControlPlane
import PinguinPostgres
import PinguinStore
import PinguinTestSupport
import PinguinWire
import Testing

/// A server with the real auth, token and monitor methods on a database of its own.
private func withAuthServer<T: Sendable>(
    throttle: AuthThrottle = AuthThrottle(), _ body: (RawSocketClient.Target, RawSocketClient.Target, PostgresClient) async throws -> T
) async throws -> T {
    try await TemporaryDatabase.with { configuration in
        let client = PostgresClient(configuration, logger: TestServices.logger())
        try await MigrationRunner(client: client, logger: TestServices.logger()).up()
        var router = JSONRPCRouter()
        MonitorMethods.register(into: &router, store: MonitorStore(client: client), actor: { RequestContext.current.actor })
        AuthMethods.register(into: &router, tokens: TokenStore(client: client), throttle: throttle)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pinguin-auth-\(UUID().uuidString.prefix(8))").path
        var serverConfiguration = ControlPlaneServer.Configuration()
        serverConfiguration.unixSocketPath = folder + "/p.sock"
        serverConfiguration.tcpPort = 0
        let server = try ControlPlaneServer(configuration: serverConfiguration, router: router, logger: TestServices.logger())
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            await server.waitUntilListening()
            let result = try await body(.unix(folder + "/p.sock"), .tcp(port: server.tcpPort!), client)
            group.cancelAll()
            return result
        }
        await client.close()
        return result
    }
}

private func rpc(_ method: String, _ params: String = "{}", id: Int = 1) -> String {
    #"{"jsonrpc":"2.0","method":"\#(method)","params":\#(params),"id":\#(id)}"#
}

/// Sends lines on one connection and returns the answers by id.
private func session(_ target: RawSocketClient.Target, _ lines: [String]) async throws -> [Int: JSONObject] {
    let (received, _) = try await RawSocketClient.exchange(target, chunks: lines.map { Array(($0 + "\n").utf8) })
    var answers: [Int: JSONObject] = [:]
    for line in received {
        let object = try #require(try JSONParser.parse(line).objectValue)
        answers[Int(object["id"]?.int64Value ?? -1)] = object
    }
    return answers
}

private func errorKind(_ answer: JSONObject?) -> String? {
    answer?["error"]?.objectValue?["data"]?.objectValue?["kind"]?.stringValue
}

@Suite("Tokens and TCP authentication", .enabled(if: TestServices.postgresEnabled, Comment(rawValue: TestServices.skipReason)), .timeLimit(.minutes(2)))
struct AuthTests {
    @Test("TCP needs auth; tokens are scoped, shown once, stored hashed, and revocable")
    func tokens() async throws {
        try await withAuthServer { unix, tcp, client in
            // The Unix socket peer is admin: it creates tokens.
            let created = try await session(unix, [
                rpc("token.create", #"{"name":"ci","scope":"write"}"#, id: 1),
                rpc("token.create", #"{"name":"viewer","scope":"read","expires_at":"2099-01-01T00:00:00Z"}"#, id: 2),
            ])
            let writeSecret = try #require(created[1]?["result"]?.objectValue?["token"]?.stringValue)
            let readSecret = try #require(created[2]?["result"]?.objectValue?["token"]?.stringValue)
            #expect(writeSecret.hasPrefix("pinguin_") && writeSecret.count == 51)
            // Only a hash is stored.
            let stored = try await client.query("SELECT token_hash, prefix FROM api_tokens ORDER BY id")
            #expect(try stored.allSatisfy { try $0.decode(Data.self, column: 0).count == 32 })
            let dump = try await client.query("SELECT string_agg(t::text, ' ') FROM api_tokens t")
            #expect(try !dump[0].decode(String.self, column: 0).contains(String(writeSecret.dropFirst(16))))

            // TCP before auth: nothing but auth and rpc.discover.
            let anonymous = try await session(tcp, [rpc("monitor.list", id: 1), rpc("auth", #"{"token":"pinguin_nope"}"#, id: 2)])
            #expect(errorKind(anonymous[1]) == "unauthenticated")
            #expect(errorKind(anonymous[2]) == "unauthenticated")

            // A write token may create monitors but not tokens; its actor is audited.
            let writer = try await session(tcp, [
                rpc("auth", #"{"token":"\#(writeSecret)"}"#, id: 1),
                rpc("monitor.create", #"{"name":"w","kind":"tcp","target":"127.0.0.1:1"}"#, id: 2),
                rpc("token.list", id: 3),
            ])
            #expect(writer[1]?["result"]?.objectValue?["scope"] == .string("write"))
            #expect(writer[2]?["result"]?.objectValue?["name"] == .string("w"))
            #expect(errorKind(writer[3]) == "forbidden")

            // A read token may list but not create.
            let reader = try await session(tcp, [
                rpc("auth", #"{"token":"\#(readSecret)"}"#, id: 1),
                rpc("monitor.list", id: 2),
                rpc("monitor.create", #"{"name":"r","kind":"tcp","target":"127.0.0.1:1"}"#, id: 3),
            ])
            #expect(reader[2]?["result"]?.objectValue?["monitors"]?.arrayValue?.count == 1)
            #expect(errorKind(reader[3]) == "forbidden")

            let actors = try await client.query("SELECT actor FROM audit_log WHERE action = 'monitor.create'")
            let tokenID = try #require(created[1]?["result"]?.objectValue?["id"]?.int64Value)
            #expect(try actors.map { try $0.decode(String.self, column: 0) } == ["token:\(tokenID)"])

            // Lists never show secrets; revoking works at once.
            let listed = try await session(unix, [rpc("token.list", id: 1), rpc("token.revoke", #"{"id":\#(tokenID)}"#, id: 2)])
            #expect(!JSONWriter.string(.object(listed[1]!)).contains(writeSecret))
            #expect(listed[2]?["result"]?.objectValue?["revoked"] == .bool(true))
            let afterRevoke = try await session(tcp, [rpc("auth", #"{"token":"\#(writeSecret)"}"#, id: 1)])
            #expect(errorKind(afterRevoke[1]) == "unauthenticated")
        }
    }

    @Test("failed attempts are throttled per address, whatever token is tried next")
    func throttling() async throws {
        try await withAuthServer(throttle: AuthThrottle(allowedFailures: 3, firstBlock: .seconds(30))) { unix, tcp, _ in
            let created = try await session(unix, [rpc("token.create", #"{"name":"good","scope":"read"}"#)])
            let secret = try #require(created[1]?["result"]?.objectValue?["token"]?.stringValue)
            let guesses = (1...3).map { rpc("auth", #"{"token":"pinguin_guess\#($0)"}"#, id: $0) }
            _ = try await session(tcp, guesses)
            let blocked = try await session(tcp, [rpc("auth", #"{"token":"\#(secret)"}"#)])
            #expect(errorKind(blocked[1]) == "rate_limited")
            #expect((blocked[1]?["error"]?.objectValue?["data"]?.objectValue?["retry_after_ms"]?.int64Value ?? 0) > 1_000)
            // The socket is not throttled by TCP failures.
            #expect(try await session(unix, [rpc("token.list")])[1]?["result"] != nil)
        }
    }

    @Test("before authentication, lines are limited to 4 KiB")
    func smallLinesBeforeAuth() async throws {
        try await withAuthServer { _, tcp, _ in
            let big = rpc("auth", #"{"token":"pinguin_\#(String(repeating: "x", count: 5_000))"}"#)
            let (received, closed) = try await RawSocketClient.exchange(tcp, chunks: [Array((big + "\n").utf8)])
            #expect(closed)
            #expect(received.count == 1)
            #expect(received.first?.contains("too_large") == true)
        }
    }
}
