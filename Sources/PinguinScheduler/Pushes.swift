import Foundation
public import PinguinRedis

/// Push monitors' check-ins (`monitor.push`): the latest push of each, which the dispatch script
/// reads at the monitor's next slot.
public struct Pushes: Sendable {
    public enum Status: String, Sendable, CaseIterable {
        case up, down, degraded
    }

    let redis: RedisClient
    let key: String

    public init(redis: RedisClient, keys: SchedulerKeys = .standard) {
        self.redis = redis
        key = keys.pushes
    }

    /// Records a push now (Redis time, the clock the dispatch script uses). Returns that time, ms since 1970.
    @discardableResult
    public func record(monitor: Int64, status: Status = .up, message: String = "", durationMilliseconds: Double? = nil) async throws -> Int64 {
        let line = message.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\r", with: " ")
        let reply = try await redis.evaluate(Self.script, keys: [key], arguments: [
            String(monitor), status.rawValue, durationMilliseconds.map { String($0) } ?? "", line,
        ])
        return Int64(reply.int ?? 0)
    }

    /// KEYS: pushes. ARGV: monitor, status, duration, message. Stamps the push with Redis `TIME`.
    static let script = RedisScript(#"""
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        redis.call('HSET', KEYS[1], ARGV[1], string.format('%.0f', now) .. '|' .. ARGV[2] .. '|' .. ARGV[3] .. '|' .. ARGV[4])
        return now
        """#)
}
