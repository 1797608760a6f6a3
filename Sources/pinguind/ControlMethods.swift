import Foundation
import Logging
import PinguinControlPlane
import PinguinModel
import PinguinPostgres
import PinguinRedis
import PinguinScheduler
import PinguinStore
import PinguinWire

/// The JSON-RPC methods built so far (the rest arrive with the control plane issue).
enum ControlMethods {
    /// The router, checked against the OpenRPC document: a method served but undocumented (or
    /// the reverse) stops pinguind at start-up rather than reaching users.
    static func router(
        roles: [String], postgres: PostgresConfiguration, redis: RedisConfiguration, client: PostgresClient,
        redisClient: RedisClient, hub: EventHub, logger: Logger
    ) throws -> JSONRPCRouter {
        var router = JSONRPCRouter()
        let catalogue = PluginCatalogue(redis: redisClient)
        let document = try JSONParser.parse(OpenRPCDocument.text)
        router.registerDiscovery(document: document)
        router.register("system.version") { request in
            guard noParams(request) else { return .failure(.invalidParams("system.version takes no parameters")) }
            return .success(.object(JSONObject([
                "version": .string(PinguinVersion.current),
                "protocol": .string("jsonrpc-2.0"),
            ])))
        }
        router.register("system.health") { request in
            guard noParams(request) else { return .failure(.invalidParams("system.health takes no parameters")) }
            let report = await Connectivity.probe(postgres: postgres, redis: redis, logger: logger)
            var storage = JSONObject()
            if let detection = try? await Storage.detect(client: client) {
                storage.append("engine", .string(detection.engine.rawValue))
                storage.append("note", .string(detection.note))
            }
            var health = JSONObject([
                "healthy": .bool(report.healthy),
                "roles": .array(roles.map { .string($0) }),
                "postgresql": .string(report.postgres),
                "redis": .string(report.redis),
                "storage": .object(storage),
            ])
            let stored = (try? await StoredProblems.load(client: client)) ?? []
            // Without Redis, its figures are unknown (null); asking would only wait for timeouts.
            if report.redisReachable {
                let snapshot = try? await catalogue.snapshot()
                health.append("supervisors", .array((snapshot?.supervisors ?? []).map { .object($0) }))
                health.append("problems", .array(((snapshot?.problems ?? []) + stored).map { .string($0) }))
                health.append("queues", .object(await queues(redisClient)))
                health.append("scheduler", await scheduler(redisClient))
            } else {
                health.append("supervisors", .null)
                health.append("problems", .array(([
                    "Redis is unreachable: supervisors, queues and the scheduler are unknown",
                ] + stored).map { .string($0) }))
                health.append("queues", .null)
                health.append("scheduler", .null)
            }
            health.append("events", .object(JSONObject([
                "subscriptions": .int(hub.subscriptionCount), "messages_received": .int(hub.receivedMessages),
            ])))
            return .success(.object(health))
        }
        ControlPlaneMethods.register(into: &router, postgres: client, redis: redisClient, hub: hub, catalogue: catalogue, logger: logger)
        if let mismatch = router.mismatch(with: document) {
            throw ControlPlaneError(message: "proto-docs/openrpc.json and the server disagree: \(mismatch)")
        }
        return router
    }

    /// Queue depths: entries in the results and jobs streams, and results read but not yet stored.
    /// A queue that cannot be read shows null.
    private static func queues(_ redis: RedisClient) async -> JSONObject {
        var queues = JSONObject()
        for (name, key) in [("results", "{pinguin}:results"), ("jobs", CheckJob.stream)] {
            let length = (try? await redis.send("XLEN", key))?.int
            queues.append(name, length.map { .int($0) } ?? .null)
        }
        let pending = try? await redis.xpending("{pinguin}:results", group: "ingesters").count
        queues.append("results_pending", pending.map { .int($0) } ?? .null)
        return queues
    }

    /// The scheduler leader's figures (it writes them every renewal); null if no leader wrote any.
    private static func scheduler(_ redis: RedisClient) async -> JSONValue {
        guard let fields = (try? await redis.send("HGETALL", SchedulerKeys.standard.statistics))?.array, !fields.isEmpty else { return .null }
        var values: [String: Int] = [:]
        var leader = ""
        for index in stride(from: 0, to: fields.count - 1, by: 2) {
            guard let key = fields[index].string else { continue }
            if key == "leader" { leader = fields[index + 1].string ?? "" } else { values[key] = fields[index + 1].int }
        }
        func milliseconds(_ key: String) -> JSONValue { values[key].map { .double(Double($0) / 1000) } ?? .null }
        var object = JSONObject()
        object.append("leader", .string(leader))
        object.append("fencing_token", values["fencing_token"].map { .int($0) } ?? .null)
        object.append("dispatched", values["dispatched"].map { .int($0) } ?? .null)
        object.append("skipped", values["skipped"].map { .int($0) } ?? .null)
        object.append("paused", values["paused"].map { .int($0) } ?? .null)
        object.append("missed", values["missed"].map { .int($0) } ?? .null)
        object.append("lag_p50_ms", milliseconds("lag_p50_us"))
        object.append("lag_p99_ms", milliseconds("lag_p99_us"))
        object.append("lag_max_ms", milliseconds("lag_max_us"))
        object.append("updated_at", values["updated_at_ms"].map { .string(RFC3339.string(Date(timeIntervalSince1970: Double($0) / 1000))) } ?? .null)
        return .object(object)
    }

    private static func noParams(_ request: JSONRPCRequest) -> Bool {
        switch request.params {
        case .none: true
        case .array(let values): values.isEmpty
        case .object(let members): members.count == 0
        }
    }
}
