import Foundation
public import Logging
import PinguinClientKit
import PinguinModel
public import PinguinRedis
public import PinguinWire
public import ServiceLifecycle
import Synchronization

/// Passes events from Redis (``EventBus/channel``, published by ingesters and other roles) to
/// this control plane's subscribers, and lets `monitor.run` wait for the result of one job.
///
/// Every subscription has its own bounded queue (``Configuration/subscriptionBuffer``); a slow
/// subscriber loses its oldest events and gets an `events.overflow` notice saying how many, never
/// an unbounded queue. Every event a subscription matched gets the next sequence number, whether
/// it is delivered or dropped, so a gap in `seq` is always explained by an overflow notice. When
/// the connection to Redis was lost, every subscriber is told (`reason: redis_reconnected`): what
/// was published meanwhile is gone.
public final class EventHub: Service, Sendable {
    public struct Configuration: Sendable {
        /// Events buffered per subscription before the oldest are dropped. Default 1000.
        public var subscriptionBuffer = 1_000
        /// Subscriptions one connection may hold. Default 16.
        public var subscriptionsPerConnection = 16
        /// Messages buffered from Redis before the hub itself drops. Default 10000.
        public var redisBuffer = 10_000

        public init() {}
    }

    /// What a subscription wants; nil means everything.
    public struct Filter: Sendable {
        public var types: Set<String>?
        public var monitorIDs: Set<Int64>?
        public var statuses: Set<String>?

        public init(types: Set<String>? = nil, monitorIDs: Set<Int64>? = nil, statuses: Set<String>? = nil) {
            self.types = types
            self.monitorIDs = monitorIDs
            self.statuses = statuses
        }

        func matches(_ event: JSONObject) -> Bool {
            if let types, !types.contains(event["type"]?.stringValue ?? "") { return false }
            if let monitorIDs, !monitorIDs.contains(event["monitor_id"]?.int64Value ?? 0) { return false }
            if let statuses, !statuses.contains(event["data"]?.objectValue?["status"]?.stringValue ?? "") { return false }
            return true
        }
    }

    enum Item: Sendable {
        case event(seq: Int64, JSONObject)
        case gap(reason: String, dropped: Int?)
    }

    final class Subscription: Sendable {
        let id: String
        let filter: Filter
        let queue: BoundedEventQueue<Item>
        private let sequence = Mutex<Int64>(0)

        init(id: String, filter: Filter, capacity: Int) {
            self.id = id
            self.filter = filter
            queue = BoundedEventQueue(capacity: capacity)
        }

        func offer(_ event: JSONObject) {
            guard filter.matches(event) else { return }
            let seq = sequence.withLock { value in
                value += 1
                return value
            }
            queue.push(.event(seq: seq, event))
        }
    }

    public static let notificationMethod = "events.event"
    public static let overflowMethod = "events.overflow"

    public let configuration: Configuration
    private let subscriber: RedisSubscriber
    private let logger: Logger
    private let state = Mutex<State>(State())
    private let subscribed = Mutex<(ready: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    private struct State {
        var subscriptions: [String: Subscription] = [:]
        /// Jobs somebody waits for: the waiter, or the event if it came first.
        var jobWaiters: [String: CheckedContinuation<JSONObject?, Never>?] = [:]
        var jobArrivals: [String: JSONObject] = [:]
        var nextID: UInt64 = 0
        var received = 0
    }

    public init(redis: RedisConfiguration, configuration: Configuration = Configuration(), logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        subscriber = RedisSubscriber(redis, logger: logger)
    }

    /// Subscriptions open on this control plane.
    public var subscriptionCount: Int { state.withLock { $0.subscriptions.count } }

    /// Event messages received from Redis since start.
    public var receivedMessages: Int { state.withLock { $0.received } }

    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.subscriber.run() }
            let events: RedisSubscription
            do {
                events = try await subscriber.subscribe(channels: [EventBus.channel], bufferSize: configuration.redisBuffer)
            } catch where Task.isShuttingDownGracefully || Task.isCancelled {
                // Stopped before Redis ever answered: nothing to hand over, a clean stop.
                group.cancelAll()
                return
            }
            markSubscribed()
            group.addTask {
                for await event in events {
                    self.handle(event)
                }
            }
            try await group.next()
            group.cancelAll()
        }
        let (subscriptions, waiters) = state.withLock { state in
            defer {
                state.subscriptions = [:]
                state.jobWaiters = [:]
            }
            return (Array(state.subscriptions.values), state.jobWaiters.values.compactMap { $0 })
        }
        subscriptions.forEach { $0.queue.finish() }
        waiters.forEach { $0.resume(returning: nil) }
    }

    private func markSubscribed() {
        let waiters = subscribed.withLock { state in
            state.ready = true
            defer { state.waiters = [] }
            return state.waiters
        }
        waiters.forEach { $0.resume() }
    }

    /// Waits until the hub listens on Redis, or `timeout`; true if it does.
    public func waitUntilSubscribed(timeout: Duration) async -> Bool {
        if subscribed.withLock({ $0.ready }) { return true }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let ready = self.subscribed.withLock { state -> Bool in
                        if !state.ready { state.waiters.append(continuation) }
                        return state.ready
                    }
                    if ready { continuation.resume() }
                }
                return true
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            if !first { markSubscribedWaitersOnly() }
            group.cancelAll()
            return first
        }
    }

    /// Releases waiters without marking ready (a timed-out wait must not leave its task hanging).
    private func markSubscribedWaitersOnly() {
        let waiters = subscribed.withLock { state in
            defer { state.waiters = [] }
            return state.waiters
        }
        waiters.forEach { $0.resume() }
    }

    private func handle(_ event: RedisPubSubEvent) {
        switch event {
        case .message(_, let payload), .patternMessage(_, _, let payload):
            state.withLock { $0.received += 1 }
            guard let events = try? JSONParser.parse(payload).arrayValue else {
                logger.warning("ignored an event message that is not a JSON array", metadata: ["events.bytes": "\(payload.count)"])
                return
            }
            deliver(events.compactMap(\.objectValue))
        case .reconnected:
            broadcastGap(reason: "redis_reconnected", dropped: nil)
        case .overflow(let dropped):
            broadcastGap(reason: "hub_overflow", dropped: nil)
            logger.warning("the event hub fell behind Redis and dropped messages", metadata: ["events.dropped_messages": "\(dropped)"])
        }
    }

    /// Hands events to matching subscriptions and to whoever waits for their job.
    func deliver(_ events: [JSONObject]) {
        let (subscriptions, resumed) = state.withLock { state -> ([Subscription], [(CheckedContinuation<JSONObject?, Never>, JSONObject)]) in
            var resumed: [(CheckedContinuation<JSONObject?, Never>, JSONObject)] = []
            if !state.jobWaiters.isEmpty {
                for event in events {
                    guard let job = event["data"]?.objectValue?["job"]?.stringValue, let slot = state.jobWaiters[job] else { continue }
                    if let waiter = slot {
                        state.jobWaiters[job] = nil
                        resumed.append((waiter, event))
                    } else if state.jobArrivals[job] == nil {
                        state.jobArrivals[job] = event
                    }
                }
            }
            return (Array(state.subscriptions.values), resumed)
        }
        for (waiter, event) in resumed { waiter.resume(returning: event) }
        for subscription in subscriptions {
            for event in events { subscription.offer(event) }
        }
    }

    private func broadcastGap(reason: String, dropped: Int?) {
        for subscription in state.withLock({ Array($0.subscriptions.values) }) {
            subscription.queue.push(.gap(reason: reason, dropped: dropped))
        }
    }

    /// Opens a subscription delivering to `outbound`. The pump starts when `start` is called
    /// (after the answer naming the subscription is queued); `end` stops it.
    func subscribe(filter: Filter, outbound: ConnectionOutbound) -> (id: String, start: @Sendable () -> Void, end: @Sendable () -> Void) {
        let id = state.withLock { state -> String in
            state.nextID += 1
            return "s\(state.nextID)"
        }
        let subscription = Subscription(id: id, filter: filter, capacity: configuration.subscriptionBuffer)
        state.withLock { $0.subscriptions[id] = subscription }
        subscription.queue.setOnFinish { [weak self] in
            _ = self?.state.withLock { $0.subscriptions.removeValue(forKey: id) }
        }
        let start: @Sendable () -> Void = {
            Task { await Self.pump(subscription, to: outbound) }
        }
        return (id, start, { subscription.queue.finish() })
    }

    private static func pump(_ subscription: Subscription, to outbound: ConnectionOutbound) async {
        for await item in subscription.queue {
            var params = JSONObject()
            params.append("subscription", .string(subscription.id))
            let method: String
            switch item {
            case .element(.event(let seq, let event)):
                method = notificationMethod
                params.append("seq", .int(seq))
                for (key, value) in zip(event.keys, event.values) { params.append(key, value) }
            case .element(.gap(let reason, let dropped)):
                method = overflowMethod
                params.append("reason", .string(reason))
                params.append("dropped", dropped.map { .int($0) } ?? .null)
            case .overflow(let dropped):
                method = overflowMethod
                params.append("reason", .string("slow_subscriber"))
                params.append("dropped", .int(dropped))
            }
            var notification = JSONObject()
            notification.append("jsonrpc", .string("2.0"))
            notification.append("method", .string(method))
            notification.append("params", .object(params))
            guard await outbound.notify(JSONWriter.bytes(.object(notification))) else {
                subscription.queue.finish()
                return
            }
        }
    }

    /// Starts watching for the result of `job`; call before the job is queued, so that a result
    /// arriving before ``waitForJob(_:timeout:)`` is kept.
    public func expectJob(_ job: String) {
        state.withLock { state in
            if state.jobWaiters[job] == nil { state.jobWaiters[job] = .some(nil) }
        }
    }

    /// Waits for the first event whose `data.job` is `job`, up to `timeout`; nil if none came.
    public func waitForJob(_ job: String, timeout: Duration) async -> JSONObject? {
        let result = await withTaskGroup(of: JSONObject?.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let early: JSONObject?? = self.state.withLock { state in
                        if let event = state.jobArrivals.removeValue(forKey: job) {
                            state.jobWaiters[job] = nil
                            return .some(event)
                        }
                        guard state.jobWaiters[job] != nil else { return .some(nil) }  // not expected, or timed out
                        state.jobWaiters[job] = .some(continuation)
                        return .none
                    }
                    if let early { continuation.resume(returning: early) }
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            // The timer won (or the task was cancelled): release the waiter.
            let waiter = state.withLock { state in
                state.jobArrivals[job] = nil
                return state.jobWaiters.removeValue(forKey: job) ?? nil
            }
            waiter?.resume(returning: nil)
            group.cancelAll()
            return first
        }
        return result
    }
}
