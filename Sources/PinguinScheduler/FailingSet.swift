public import Foundation
public import PinguinRedis

/// `{pinguin}:failing`: monitors failing but not yet confirmed down, checked at their retry
/// interval. Ingesters keep it as the status engine decides after each batch, and for a monitor
/// that is failing they bring its next check forward to the failed slot plus its retry interval
/// (never later than it was, never before now), so confirmation does not wait for the next
/// regular slot: an outage is confirmed within the failure threshold's retries, not intervals.
public struct FailingSet: Sendable {
    let redis: RedisClient
    let keys: SchedulerKeys

    public init(redis: RedisClient, keys: SchedulerKeys = .standard) {
        self.redis = redis
        self.keys = keys
    }

    /// `failing`: monitors failing now, with the newest slot judged; `others`: monitors that are
    /// not (recovered, or confirmed down). Absolute, not a delta, so a lost update loses nothing.
    public func update(failing: [(monitor: Int64, slot: Date)], others: [Int64]) async throws {
        guard !failing.isEmpty || !others.isEmpty else { return }
        var arguments: [any RedisArgument] = [String(failing.count)]
        for entry in failing {
            arguments.append(String(entry.monitor))
            arguments.append(String(Int64((entry.slot.timeIntervalSince1970 * 1000).rounded(.down))))
        }
        arguments += others.map { String($0) as any RedisArgument }
        _ = try await redis.evaluate(SchedulerScripts.failing, keys: [keys.failing, keys.due, keys.specs], arguments: arguments)
    }
}
