import Foundation
import PinguinControlPlane
import PinguinPostgres
import PinguinRedis
import PinguinScheduler
import PinguinStore
import PinguinTestSupport
import PinguinWire
import Testing

@Suite("monitor.push and push tokens", .enabled(if: TestServices.postgresEnabled && TestServices.redisEnabled, Comment(rawValue: TestServices.skipReason)),
       .timeLimit(.minutes(2)))
struct PushMethodsTests {
    @Test("a push token pushes to its monitor only; bad tokens are refused and throttled; the push is recorded in Redis")
    func push() async throws {
        let redis = RedisClient(try RedisConfiguration(url: TestServices.requireRedisURL()), logger: TestServices.logger())
        defer { Task { await redis.close() } }
        try await ServiceGate.redis.shared {
            try await RouterHarness.with(register: { router, client in
                PushMethods.register(into: &router, monitors: MonitorStore(client: client), tokens: TokenStore(client: client), redis: redis,
                                     throttle: AuthThrottle(), actor: { "test-user" })
            }) { api in
                var push = MonitorDraft(name: "backup", kind: "push", target: "")
                push.intervalMilliseconds = 60_000
                let monitor = try await MonitorStore(client: api.client).create(push)
                let http = try await MonitorStore(client: api.client).create(MonitorDraft(name: "web", kind: "http", target: "http://127.0.0.1:1/"))
                defer { Task { _ = try? await redis.send("HDEL", SchedulerKeys.standard.pushes, String(monitor)) } }

                let refused = try await api.error("monitor.push_token", #"{"id":\#(http)}"#)
                #expect(refused.data?.objectValue?["field"] == .string("id"))
                let token = try await api.ok("monitor.push_token", #"{"id":\#(monitor)}"#)
                let secret = try #require(token["token"]?.stringValue)
                #expect(token["scope"] == .string("push") && token["monitor_id"] == .int(monitor))

                let accepted = try await api.ok("monitor.push", #"{"token":"\#(secret)","status":"degraded","message":"took long","duration_ms":1834.5}"#)
                #expect(accepted["accepted"] == .bool(true) && accepted["monitor_id"] == .int(monitor))
                let stored = try #require(try await redis.send("HGET", SchedulerKeys.standard.pushes, String(monitor)).string)
                #expect(stored.hasSuffix("|degraded|1834.5|took long"), "\(stored)")

                #expect(try await api.error("monitor.push", #"{"token":"\#(secret)","status":"sideways"}"#).data?.objectValue?["field"] == .string("status"))
                let wrong = try await api.error("monitor.push", #"{"token":"pinguin_not-a-real-token"}"#)
                #expect(wrong.code == JSONRPCError.unauthenticatedCode)
                // A push token is not an API token: auth does not accept it (AuthMethods' verify excludes push).
                let tokens = TokenStore(client: api.client)
                #expect(try await tokens.verify(secret) == nil)
                // Revoked: refused.
                let tokenID = try #require(token["id"]?.int64Value)
                #expect(try await tokens.revoke(id: tokenID, actor: "test"))
                #expect(try await api.error("monitor.push", #"{"token":"\#(secret)"}"#).code == JSONRPCError.unauthenticatedCode)
            }
        }
    }
}
