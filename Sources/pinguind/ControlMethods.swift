import Foundation
import Logging
import PinguinControlPlane
import PinguinPostgres
import PinguinRedis
import PinguinStore
import PinguinWire

/// The JSON-RPC methods built so far (the rest arrive with the control plane issue).
enum ControlMethods {
    /// The router, checked against the OpenRPC document: a method served but undocumented (or
    /// the reverse) stops pinguind at start-up rather than reaching users.
    static func router(
        roles: [String], postgres: PostgresConfiguration, redis: RedisConfiguration, client: PostgresClient, logger: Logger
    ) throws -> JSONRPCRouter {
        var router = JSONRPCRouter()
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
            return .success(.object(JSONObject([
                "healthy": .bool(report.healthy),
                "roles": .array(roles.map { .string($0) }),
                "postgresql": .string(report.postgres),
                "redis": .string(report.redis),
                "storage": .object(storage),
            ])))
        }
        MonitorMethods.register(into: &router, store: MonitorStore(client: client), actor: { RequestContext.current.actor })
        ResultMethods.register(into: &router, storage: PartitionedResultStorage(client: client, logger: logger))
        AuthMethods.register(into: &router, tokens: TokenStore(client: client), throttle: AuthThrottle())
        if let mismatch = router.mismatch(with: document) {
            throw ControlPlaneError(message: "proto-docs/openrpc.json and the server disagree: \(mismatch)")
        }
        return router
    }

    private static func noParams(_ request: JSONRPCRequest) -> Bool {
        switch request.params {
        case .none: true
        case .array(let values): values.isEmpty
        case .object(let members): members.count == 0
        }
    }
}
