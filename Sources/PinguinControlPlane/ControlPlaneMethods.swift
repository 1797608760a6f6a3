public import Logging
public import PinguinPostgres
public import PinguinRedis
public import PinguinStore
import PinguinScheduler

/// Every domain method of the control plane, registered in one place, so that pinguind and the
/// tests that compare the server with proto-docs/openrpc.json see the same set. (`system.*` and
/// `rpc.discover` need the daemon's own facts; pinguind adds them.)
public enum ControlPlaneMethods {
    public static func register(
        into router: inout JSONRPCRouter, postgres client: PostgresClient, redis: RedisClient, hub: EventHub,
        catalogue: PluginCatalogue, logger: Logger
    ) {
        let actor: @Sendable () -> String = { RequestContext.current.actor }
        let monitors = MonitorStore(client: client)
        // The scheduler reconciles a changed monitor at once (and every minute in any case).
        let changed: @Sendable (Int64) async -> Void = { id in
            _ = try? await redis.send("PUBLISH", SchedulerKeys.standard.changes, String(id))
        }
        MonitorMethods.register(into: &router, store: monitors, catalogue: catalogue, changed: changed, actor: actor)
        MonitorRunMethod.register(into: &router, store: monitors, redis: redis, hub: hub, actor: actor)
        ResultMethods.register(into: &router, storage: PartitionedResultStorage(client: client, logger: logger), incidents: IncidentStore(client: client))
        IncidentMethods.register(into: &router, store: IncidentStore(client: client))
        ChannelMethods.register(into: &router, store: ChannelStore(client: client), actor: actor)
        NotificationMethods.register(into: &router, store: OutboxStore(client: client))
        MaintenanceMethods.register(into: &router, store: MaintenanceStore(client: client), actor: actor)
        let throttle = AuthThrottle()
        AuthMethods.register(into: &router, tokens: TokenStore(client: client), throttle: throttle)
        PushMethods.register(into: &router, monitors: monitors, tokens: TokenStore(client: client), redis: redis, throttle: throttle, actor: actor)
        EventMethods.register(into: &router, hub: hub)
        PluginMethods.register(into: &router, catalogue: catalogue)
    }
}
