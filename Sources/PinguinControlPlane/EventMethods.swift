import Foundation
import PinguinModel
public import PinguinWire

/// `events.subscribe` and `events.unsubscribe`: live events as notifications on the caller's
/// connection (proto-docs/events.md).
public enum EventMethods {
    public static let eventTypes: Set<String> = ["result", "status", "incident"]
    public static let statuses: Set<String> = Set(CheckStatus.allCases.map(\.rawValue)).union(["pending"])

    public static func register(into router: inout JSONRPCRouter, hub: EventHub) {
        router.register("events.subscribe") { request in
            await MonitorMethods.run { () throws(JSONRPCError) -> JSONValue in
                var params = try NamedParams(request.params, method: request.method)
                var filter = EventHub.Filter()
                if let types = try params.strings("types", maxCount: 10) {
                    if let unknown = types.first(where: { !eventTypes.contains($0) }) {
                        throw .invalidParams("types: \(unknown) is not one of \(eventTypes.sorted().joined(separator: ", "))", field: "types")
                    }
                    filter.types = Set(types)
                }
                if let ids = try params.integers("monitor_ids", maxCount: 10_000) { filter.monitorIDs = Set(ids) }
                if let wanted = try params.strings("statuses", maxCount: 20) {
                    if let unknown = wanted.first(where: { !statuses.contains($0) }) {
                        throw .invalidParams("statuses: \(unknown) is not one of \(statuses.sorted().joined(separator: ", "))", field: "statuses")
                    }
                    filter.statuses = Set(wanted)
                }
                try params.rejectUnknown()
                let context = RequestContext.current
                guard let outbound = context.connection.outbound, let afterAnswer = context.afterAnswer else {
                    throw JSONRPCError(code: -32004, message: "events need a connection to arrive on", kind: "unsupported")
                }
                let subscription = hub.subscribe(filter: filter, outbound: outbound)
                guard context.connection.addSubscription(subscription.id, limit: hub.configuration.subscriptionsPerConnection, end: subscription.end) else {
                    subscription.end()
                    throw JSONRPCError(
                        code: -32005, message: "this connection has \(hub.configuration.subscriptionsPerConnection) subscriptions already; unsubscribe one first",
                        kind: "limit_exceeded")
                }
                afterAnswer.append(subscription.start)
                var answer = JSONObject()
                answer.append("subscription", .string(subscription.id))
                answer.append("types", .array((filter.types ?? eventTypes).sorted().map { .string($0) }))
                answer.append("buffer", .int(hub.configuration.subscriptionBuffer))
                return .object(answer)
            }
        }
        router.register("events.unsubscribe") { request in
            await MonitorMethods.run { () throws(JSONRPCError) -> JSONValue in
                var params = try NamedParams(request.params, method: request.method)
                let id = try params.requiredString("subscription", maxLength: 64)
                try params.rejectUnknown()
                guard RequestContext.current.connection.removeSubscription(id) else {
                    throw JSONRPCError(code: MonitorMethods.notFoundCode, message: "this connection has no subscription \(id)", kind: "not_found",
                                       details: JSONObject(["field": .string("subscription")]))
                }
                return .object(JSONObject(["unsubscribed": .bool(true), "subscription": .string(id)]))
            }
        }
    }
}

/// `plugin.list`: the checker kinds the running supervisors offer, with their config schemas.
public enum PluginMethods {
    public static func register(into router: inout JSONRPCRouter, catalogue: PluginCatalogue) {
        router.register("plugin.list") { request in
            await MonitorMethods.run { () throws(JSONRPCError) -> JSONValue in
                let params = try NamedParams(request.params, method: request.method)
                try params.rejectUnknown()
                let snapshot: PluginCatalogue.Snapshot
                do {
                    snapshot = try await catalogue.snapshot()
                } catch {
                    throw .unavailable("Redis is unreachable, so the plugin catalogue cannot be read")
                }
                let kinds = snapshot.kinds.values.sorted { $0.kind < $1.kind }.map { kind -> JSONValue in
                    var object = JSONObject()
                    object.append("kind", .string(kind.kind))
                    object.append("plugin", .string(kind.plugin))
                    object.append("version", .string(kind.version))
                    object.append("protocol", .string(kind.protocolVersion))
                    object.append("max_concurrency", kind.maximumConcurrency.map { .int($0) } ?? .null)
                    object.append("description", .string(kind.description))
                    object.append("config_schema", kind.configSchema)
                    object.append("target_schema", kind.targetSchema ?? .null)
                    object.append("supervisors", .array(kind.supervisors.sorted().map { .string($0) }))
                    if let problem = snapshot.invalidSchemas[kind.kind] { object.append("schema_error", .string(problem)) }
                    return .object(object)
                }
                return .object(JSONObject(["plugins": .array(kinds)]))
            }
        }
    }
}
