import Foundation
import PinguinModel
public import PinguinPostgres
public import PinguinRedis
import PinguinWire

/// Makes Redis match PostgreSQL, the truth: every enabled monitor has its spec and a due slot;
/// deleted and disabled ones have neither; the failing set matches `monitor_state`.
///
/// A monitor that has no due slot (new, or Redis was flushed) starts after the later of its last
/// stored slot and its last change, so slots lost in an outage are recorded as missed by the next
/// dispatch rather than forgotten. A monitor whose interval changed is moved to its next slot
/// under the new interval.
public struct Reconciler: Sendable {
    public struct Outcome: Sendable, Hashable {
        public var monitors = 0
        public var added = 0
        public var changed = 0
        public var removed = 0
        /// Monitors whose gap was older than the backfill and got one row for it.
        public var summarized = 0
    }

    /// Missed slots recorded one row each, at most, per monitor and outage.
    public static let backfillSlots: Int64 = 100

    let postgres: PostgresClient
    let redis: RedisClient
    let keys: SchedulerKeys

    public init(postgres: PostgresClient, redis: RedisClient, keys: SchedulerKeys = .standard) {
        self.postgres = postgres
        self.redis = redis
        self.keys = keys
    }

    struct Row {
        var id: Int64
        var spec: String
        var interval: Int64
        var offset: Int64
        var resumeAfter: Int64
        var failing: Bool
        var firstLocation: String
    }

    static let query = """
        SELECT m.id, m.kind, m.target, m.config::text, m.interval_ms, m.timeout_ms, m.retry_interval_ms, m.locations, m.paused,
            (extract(epoch FROM greatest(s.last_scheduled_at, m.updated_at)) * 1000)::int8,
            coalesce(s.consecutive_failures, 0) > 0 AND coalesce(s.consecutive_failures, 0) < m.failure_threshold
        FROM monitors m LEFT JOIN monitor_state s ON s.monitor_id = m.id
        WHERE m.enabled
        """

    static func row(_ row: PostgresRow) throws -> Row {
        let id = try row.decode(Int64.self, column: 0)
        let interval = Int64(try row.decode(Int32.self, column: 4))
        let locations = try row.decode([String].self, column: 7)
        let offset = SlotClock.offset(monitor: id, interval: interval)
        var spec = JSONObject()
        spec.append("k", .string(try row.decode(String.self, column: 1)))
        spec.append("t", .string(try row.decode(String.self, column: 2)))
        spec.append("c", .string(try row.decode(String.self, column: 3)))
        spec.append("iv", .int(interval))
        spec.append("to", .int(try row.decode(Int32.self, column: 5)))
        spec.append("ri", .int(try row.decode(Int32.self, column: 6)))
        spec.append("off", .int(offset))
        spec.append("loc", .string(locations.joined(separator: ",")))
        spec.append("l1", .string(locations.first ?? "default"))
        spec.append("p", .bool(try row.decode(Bool.self, column: 8)))
        return Row(id: id, spec: JSONWriter.string(.object(spec)), interval: interval, offset: offset,
                   resumeAfter: try row.decode(Int64.self, column: 9), failing: try row.decode(Bool.self, column: 10),
                   firstLocation: locations.first ?? "default")
    }

    /// Reconciles every monitor.
    @discardableResult
    public func reconcileAll() async throws -> Outcome {
        let rows = try await postgres.query(Self.query).map(Self.row)
        let current = try await redis.send("HGETALL", keys.specs).array ?? []
        var existing: [String: String] = [:]
        var index = 0
        while index + 1 < current.count {
            if let id = current[index].string, let spec = current[index + 1].string { existing[id] = spec }
            index += 2
        }
        let wanted = Set(rows.map { String($0.id) })
        let dueIDs = Set((try await redis.send("ZRANGE", keys.due, 0, -1).array ?? []).compactMap(\.string))
        var outcome = try await apply(rows, existing: existing, scheduled: dueIDs)
        let stale = Set(existing.keys).union(dueIDs).subtracting(wanted).sorted()
        if !stale.isEmpty {
            var commands: [RedisCommand] = []
            for chunk in stride(from: 0, to: stale.count, by: 1_000).map({ Array(stale[$0..<min($0 + 1_000, stale.count)]) }) {
                commands.append(RedisCommand("HDEL", arguments: [keys.specs] + chunk))
                commands.append(RedisCommand("ZREM", arguments: [keys.due] + chunk))
                commands.append(RedisCommand("SREM", arguments: [keys.failing] + chunk))
                commands.append(RedisCommand("HDEL", arguments: [keys.pushes] + chunk))
            }
            try check(try await redis.pipeline(commands))
            outcome.removed = stale.count
        }
        return outcome
    }

    /// Reconciles the given monitors (after the control plane changed them).
    @discardableResult
    public func reconcile(ids: [Int64]) async throws -> Outcome {
        guard !ids.isEmpty else { return Outcome() }
        let rows = try await postgres.query(Self.query + " AND m.id = ANY($1)", [ids]).map(Self.row)
        let names = ids.map(String.init)
        // One round trip: the specs, then each monitor's due slot.
        let replies = try await redis.pipeline([RedisCommand("HMGET", arguments: [keys.specs] + names)]
            + names.map { RedisCommand("ZSCORE", keys.due, $0) })
        var existing: [String: String] = [:]
        var scheduled: Set<String> = []
        for (index, name) in names.enumerated() {
            if let spec = replies[0].array?[index].string { existing[name] = spec }
            if replies[index + 1].string != nil { scheduled.insert(name) }
        }
        var outcome = try await apply(rows, existing: existing, scheduled: scheduled)
        let gone = Set(names).subtracting(rows.map { String($0.id) }).sorted()
        if !gone.isEmpty {
            try check(try await redis.pipeline([
                RedisCommand("HDEL", arguments: [keys.specs] + gone),
                RedisCommand("ZREM", arguments: [keys.due] + gone),
                RedisCommand("SREM", arguments: [keys.failing] + gone),
                RedisCommand("HDEL", arguments: [keys.pushes] + gone),
            ]))
            outcome.removed = gone.count
        }
        return outcome
    }

    private func apply(_ rows: [Row], existing: [String: String], scheduled: Set<String>) async throws -> Outcome {
        var outcome = Outcome(monitors: rows.count)
        let now = Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
        var commands: [RedisCommand] = []
        for row in rows {
            let id = String(row.id)
            let previous = existing[id]
            if previous != row.spec {
                commands.append(RedisCommand("HSET", keys.specs, id, row.spec))
            }
            if !scheduled.contains(id) {
                // New, or Redis lost it: start after the last slot PostgreSQL knows of (or the
                // last change), so the slots in between are recorded as missed, one row each for
                // the last `backfillSlots`; anything older gets one row standing for the whole gap.
                var start = SlotClock.nextSlot(after: min(row.resumeAfter, now), interval: row.interval, offset: row.offset)
                let earliest = SlotClock.nextSlot(after: now - Self.backfillSlots * row.interval, interval: row.interval, offset: row.offset)
                if start < earliest {
                    let gap = earliest - start
                    commands.append(RedisCommand(
                        "XADD", keys.results, "*", "monitor", id, "scheduled", String(start * 1000), "location", row.firstLocation,
                        "status", "skipped", "slot_ms", String(min(gap, Int64(Int32.max))),
                        "message", "missed: \(gap / row.interval) slots from \(start) to \(earliest) ms had no job (scheduler or Redis unavailable)",
                        "supervisor", "scheduler"))
                    start = earliest
                    outcome.summarized += 1
                }
                commands.append(RedisCommand("ZADD", keys.due, Int(start), id))
                outcome.added += 1
            } else if let previous, Self.interval(of: previous) != row.interval {
                commands.append(RedisCommand("ZADD", keys.due, Int(SlotClock.nextSlot(after: now, interval: row.interval, offset: row.offset)), id))
                outcome.changed += 1
            } else if previous != row.spec {
                outcome.changed += 1
            }
            commands.append(RedisCommand(row.failing ? "SADD" : "SREM", keys.failing, id))
        }
        for start in stride(from: 0, to: commands.count, by: 5_000) {
            try check(try await redis.pipeline(Array(commands[start..<min(start + 5_000, commands.count)])))
        }
        return outcome
    }

    static func interval(of spec: String) -> Int64? {
        (try? JSONParser.parse(spec))?.objectValue?["iv"]?.int64Value
    }

    private func check(_ replies: [RedisValue]) throws {
        if let failure = replies.first(where: { if case .error = $0 { true } else { false } }) {
            throw RedisError(code: .server, message: failure.string ?? "\(failure)")
        }
    }
}
