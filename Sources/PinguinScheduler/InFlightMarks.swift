public import PinguinRedis

/// The in-flight marks the dispatch script sets (one per monitor, naming its job), released when
/// the job's result is in: by whoever sees the result first. A mark is only released for its own
/// job, so a late result of an old job never frees a newer one; a mark nobody releases (its
/// supervisor and result were lost) goes stale after the job's timeout plus the grace.
public struct InFlightMarks: Sendable {
    let redis: RedisClient
    let key: String

    public init(redis: RedisClient, keys: SchedulerKeys = .standard) {
        self.redis = redis
        key = keys.inFlight
    }

    /// Releases the marks of these finished jobs; returns how many were still set.
    @discardableResult
    public func release(_ finished: [(monitor: Int64, job: String)]) async throws -> Int {
        guard !finished.isEmpty else { return 0 }
        var arguments: [any RedisArgument] = []
        arguments.reserveCapacity(finished.count * 2)
        for entry in finished {
            arguments.append(String(entry.monitor))
            arguments.append(entry.job)
        }
        return try await redis.evaluate(SchedulerScripts.release, keys: [key], arguments: arguments).int ?? 0
    }
}
