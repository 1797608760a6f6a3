import Foundation
import PinguinModel
import PinguinPostgres
import PinguinRedis
import PinguinScheduler
import PinguinStore
import PinguinTestSupport
import Testing

/// A migrated database of its own and scheduler keys of its own (a hash tag per test), so tests
/// run side by side on one Redis.
private struct Fixture {
    let client: PostgresClient
    let redis: RedisClient
    let keys: SchedulerKeys
    let store: MonitorStore

    static func with<T: Sendable>(_ body: (Fixture) async throws -> T) async throws -> T {
        try await ServiceGate.redis.shared {
            try await TemporaryDatabase.with { configuration in
                let client = PostgresClient(configuration, logger: TestServices.logger())
                let redis = RedisClient(try RedisConfiguration(url: TestServices.requireRedisURL()), logger: TestServices.logger())
                let keys = SchedulerKeys(prefix: "{pinguin-test-\(UUID().uuidString.prefix(8))}")
                defer {
                    Task { [redis] in
                        _ = try? await redis.send(RedisCommand("DEL", arguments: [keys.due, keys.specs, keys.inFlight, keys.failing, keys.jobs,
                                                                                    keys.results, keys.leader, keys.epoch, keys.statistics, keys.pushes]))
                        await redis.close()
                    }
                }
                do {
                    try await MigrationRunner(client: client, logger: TestServices.logger()).up()
                    let result = try await body(Fixture(client: client, redis: redis, keys: keys, store: MonitorStore(client: client)))
                    await client.close()
                    return result
                } catch {
                    await client.close()
                    throw error
                }
            }
        }
    }

    func monitor(_ name: String, interval: Int32 = 1_000, timeout: Int32 = 500, kind: String = "http") async throws -> Int64 {
        var draft = MonitorDraft(name: name, kind: kind, target: "http://127.0.0.1:1/\(name)")
        draft.intervalMilliseconds = interval
        draft.timeoutMilliseconds = timeout
        draft.retryIntervalMilliseconds = 1_000
        return try await store.create(draft)
    }

    func scheduler(grace: Duration = .zero, lease: Duration = .seconds(1)) -> Scheduler {
        var configuration = Scheduler.Configuration()
        configuration.keys = keys
        configuration.lease = lease
        configuration.renewInterval = .milliseconds(200)
        configuration.inFlightGrace = grace
        configuration.reconcileInterval = .seconds(1)
        return Scheduler(configuration: configuration, postgres: client, redis: redis, logger: TestServices.logger())
    }

    /// One entry per slot accounted for: a dispatched job or a row written instead (paused, skipped, missed).
    struct Slot: Hashable {
        var monitor: Int64
        var scheduledMicros: Int64
        var kind: String  // "job", or the row's status
        var message: String
    }

    func slots() async throws -> [Slot] {
        var slots: [Slot] = []
        for (stream, isJob) in [(keys.jobs, true), (keys.results, false)] {
            for fields in try await streamEntries(redis, stream) {
                slots.append(Slot(monitor: Int64(fields["monitor"] ?? "") ?? 0, scheduledMicros: Int64(fields["scheduled"] ?? "") ?? 0,
                                  kind: isJob ? "job" : fields["status"] ?? "?", message: fields["message"] ?? ""))
            }
        }
        return slots
    }

    /// Runs `schedulers` until `body` returns, then stops them.
    func running<T: Sendable>(_ schedulers: [Scheduler], _ body: () async throws -> T) async throws -> T {
        let tasks = schedulers.map { scheduler in Task { try await scheduler.run() } }
        defer { tasks.forEach { $0.cancel() } }
        let result = try await body()
        for task in tasks {
            task.cancel()
            _ = try? await task.value
        }
        return result
    }
}

/// Every slot between a monitor's first and last accounted slot is accounted for exactly once.
private func expectContiguous(_ slots: [Fixture.Slot], monitor: Int64, interval: Int64, sourceLocation: SourceLocation = #_sourceLocation) {
    let times = slots.filter { $0.monitor == monitor }.map(\.scheduledMicros).sorted()
    #expect(Set(times).count == times.count, "monitor \(monitor): a slot was accounted twice", sourceLocation: sourceLocation)
    let steps = zip(times, times.dropFirst()).map { $1 - $0 }
    #expect(steps.allSatisfy { $0 == interval * 1000 }, "monitor \(monitor): gaps or overlaps \(steps)", sourceLocation: sourceLocation)
}

@Suite("Scheduler against real Redis and PostgreSQL",
       .enabled(if: TestServices.postgresEnabled && TestServices.redisEnabled, Comment(rawValue: TestServices.skipReason)),
       .timeLimit(.minutes(3)))
struct SchedulerIntegrationTests {
    @Test("of two schedulers one leads; when it dies the other takes over, and every slot is dispatched or recorded exactly once")
    func failover() async throws {
        try await Fixture.with { fixture in
            var ids: [Int64] = []
            for index in 0..<6 { ids.append(try await fixture.monitor("m\(index)")) }
            var first = fixture.scheduler()
            var configuration = first.configuration
            configuration.resignOnStop = false  // stopping acts out a crash: the lease just runs out
            first = Scheduler(configuration: configuration, postgres: fixture.client, redis: fixture.redis, logger: TestServices.logger())
            let second = fixture.scheduler()
            let firstTask = Task { try await first.run() }
            let secondTask = Task { try await second.run() }
            defer {
                firstTask.cancel()
                secondTask.cancel()
            }
            try await Task.sleep(for: .seconds(3))
            let leaders = [first.leadingToken, second.leadingToken].compactMap { $0 }
            #expect(leaders.count == 1, "exactly one leads")
            // Only `first` can crash convincingly (it does not resign). If `second` leads, it
            // stops politely, `first` takes over, and a fresh standby joins.
            var standby = second
            var standbyTask = secondTask
            if second.leadingToken != nil {
                secondTask.cancel()
                _ = try? await secondTask.value
                try await Task.sleep(for: .seconds(2))
                standby = fixture.scheduler()
                let fresh = standby
                standbyTask = Task { try await fresh.run() }
            }
            defer { standbyTask.cancel() }
            let before = try await fixture.slots().count
            let oldToken = try #require(first.leadingToken, "first leads before the crash")
            firstTask.cancel()
            _ = try? await firstTask.value
            try await Task.sleep(for: .seconds(4))
            let newToken = try #require(standby.leadingToken, "the standby took over")
            #expect(newToken > oldToken, "a new leader gets a higher fencing token")
            standbyTask.cancel()
            _ = try? await standbyTask.value
            let slots = try await fixture.slots()
            #expect(slots.count > before)
            for id in ids {
                expectContiguous(slots, monitor: id, interval: 1_000)
                #expect(slots.filter { $0.monitor == id }.count >= 6, "monitor \(id) ran through the test")
            }
            // A former leader's token no longer dispatches.
            let stale = try await fixture.redis.evaluate(RedisScript("return redis.call('GET', KEYS[1])"), keys: [fixture.keys.epoch])
            #expect(stale.int.map(Int64.init) == newToken)
        }
    }

    @Test("slots that pass while no scheduler runs are recorded as missed, each once")
    func missedDuringOutage() async throws {
        try await Fixture.with { fixture in
            let id = try await fixture.monitor("outage")
            try await fixture.running([fixture.scheduler()]) { try await Task.sleep(for: .seconds(2)) }
            try await Task.sleep(for: .seconds(3))
            try await fixture.running([fixture.scheduler()]) { try await Task.sleep(for: .seconds(2)) }
            let slots = try await fixture.slots()
            let missed = slots.filter { $0.monitor == id && $0.kind == "skipped" && $0.message.hasPrefix("missed") }
            #expect(missed.count >= 2, "\(slots.filter { $0.monitor == id }.map(\.kind))")
            expectContiguous(slots, monitor: id, interval: 1_000)
        }
    }

    @Test("a long outage is recorded as one row per slot for the last 100 slots and one row for the gap before")
    func longOutage() async throws {
        try await Fixture.with { fixture in
            let id = try await fixture.monitor("forgotten")
            // As if nothing had scheduled it for ten minutes (600 one-second slots).
            _ = try await fixture.client.query("UPDATE monitors SET updated_at = now() - interval '10 minutes' WHERE id = $1", [id])
            try await fixture.running([fixture.scheduler()]) { try await Task.sleep(for: .seconds(2.5)) }
            let slots = try await fixture.slots().filter { $0.monitor == id }.sorted { $0.scheduledMicros < $1.scheduledMicros }
            let summary = try #require(slots.first)
            #expect(summary.kind == "skipped" && summary.message.contains("slots from"), "\(summary)")
            let perSlot = slots.dropFirst()
            #expect(perSlot.filter { $0.message.hasPrefix("missed") }.count >= 99, "\(perSlot.count)")
            expectContiguous(Array(perSlot), monitor: id, interval: 1_000)
            #expect(perSlot.contains { $0.kind == "job" }, "the current slot runs")
        }
    }

    @Test("a check still in flight makes the next slots skipped, not queued; releasing it lets the next slot run")
    func skippedWhileInFlight() async throws {
        try await Fixture.with { fixture in
            let id = try await fixture.monitor("slow")
            let scheduler = fixture.scheduler(grace: .seconds(60))
            try await fixture.running([scheduler]) {
                // Two slots must come while the check runs; on a loaded machine the first slots may
                // be recorded as missed before the scheduler leads, so look again for a while.
                try await Task.sleep(for: .seconds(3.5))
                var stillRunning = 0
                for _ in 0..<60 {
                    stillRunning = try await fixture.slots().filter { $0.monitor == id && $0.message.contains("still running") }.count
                    if stillRunning >= 2 { break }
                    try await Task.sleep(for: .milliseconds(200))
                }
                #expect(stillRunning >= 2)
                let slots = try await fixture.slots().filter { $0.monitor == id }
                #expect(slots.filter { $0.kind == "job" }.count == 1, "one job, no backlog: \(slots.map(\.kind))")
                let skipped = slots.filter { $0.kind == "skipped" }
                // Mostly "still running"; on a loaded machine a late round may also record a missed slot.
                #expect(skipped.count >= 2 && skipped.contains { $0.message.contains("still running") }, "\(skipped)")
                #expect(skipped.allSatisfy { $0.message.contains("still running") || $0.message.hasPrefix("missed") }, "\(skipped)")
                // The result is in: the mark goes, and the next slot is dispatched again.
                let job = try #require(try await fixture.redis.send("HGET", fixture.keys.inFlight, String(id)).string?.split(separator: "|").last)
                #expect(try await InFlightMarks(redis: fixture.redis, keys: fixture.keys).release([(id, "\(id):0")]) == 0, "another job's result frees nothing")
                #expect(try await InFlightMarks(redis: fixture.redis, keys: fixture.keys).release([(id, String(job))]) == 1)
                try await Task.sleep(for: .seconds(1.5))
                #expect(try await fixture.slots().filter { $0.monitor == id && $0.kind == "job" }.count == 2)
                expectContiguous(try await fixture.slots(), monitor: id, interval: 1_000)
            }
        }
    }

    @Test("a paused monitor records paused slots and a deleted one stops, as soon as the control plane says so")
    func pausedAndDeleted() async throws {
        try await Fixture.with { fixture in
            let paused = try await fixture.monitor("to-pause")
            let deleted = try await fixture.monitor("to-delete")
            let scheduler = fixture.scheduler()
            try await fixture.running([scheduler]) {
                try await Task.sleep(for: .seconds(2.5))
                _ = try await fixture.store.setPaused(id: paused, paused: true, actor: "test")
                try await fixture.store.delete(id: deleted)
                _ = try await fixture.redis.send("PUBLISH", fixture.keys.changes, "\(paused),\(deleted)")
                let changedAt = Int64(Date().timeIntervalSince1970 * 1_000_000)
                try await Task.sleep(for: .seconds(2.5))
                let slots = try await fixture.slots()
                let late = slots.filter { $0.scheduledMicros > changedAt + 300_000 }
                #expect(late.filter { $0.monitor == paused }.allSatisfy { $0.kind == "paused" })
                #expect(late.filter { $0.monitor == paused }.count >= 2)
                #expect(late.filter { $0.monitor == deleted }.isEmpty, "\(late.filter { $0.monitor == deleted })")
                expectContiguous(slots, monitor: paused, interval: 1_000)
                #expect(try await fixture.redis.send("ZSCORE", fixture.keys.due, String(deleted)).string == nil)
            }
        }
    }

    @Test("after Redis lost everything, the scheduler rebuilds its keys from PostgreSQL and dispatches again")
    func rebuildAfterLoss() async throws {
        try await Fixture.with { fixture in
            let id = try await fixture.monitor("survivor")
            let scheduler = fixture.scheduler()
            try await fixture.running([scheduler]) {
                try await Task.sleep(for: .seconds(2))
                // What FLUSHALL does to the scheduler's keys (without disturbing other tests).
                _ = try await fixture.redis.send(RedisCommand("DEL", arguments: [
                    fixture.keys.due, fixture.keys.specs, fixture.keys.inFlight, fixture.keys.leader, fixture.keys.epoch, fixture.keys.jobs,
                ]))
                try await Task.sleep(for: .seconds(3))
                #expect(try await fixture.redis.send("ZSCORE", fixture.keys.due, String(id)).string != nil)
                #expect(try await fixture.redis.send("HEXISTS", fixture.keys.specs, String(id)).int == 1)
                #expect(try await fixture.slots().filter { $0.monitor == id && $0.kind == "job" }.count >= 2, "dispatching resumed")
            }
        }
    }

    @Test("a push monitor is down without pushes, up (or what the push said) while they come, and down again when they stop")
    func pushMonitor() async throws {
        try await Fixture.with { fixture in
            let id = try await fixture.monitor("nightly-job", kind: "push")
            let pushes = Pushes(redis: fixture.redis, keys: fixture.keys)
            func rows() async throws -> [Fixture.Slot] {
                try await fixture.slots().filter { $0.monitor == id }.sorted { $0.scheduledMicros < $1.scheduledMicros }
            }
            try await fixture.running([fixture.scheduler()]) {
                try await Task.sleep(for: .seconds(2.2))
                var silent = try await rows()
                for _ in 0..<50 where !silent.contains(where: { $0.kind == "down" }) {
                    try await Task.sleep(for: .milliseconds(200))
                    silent = try await rows()
                }
                // Down, or (on a loaded machine, before the scheduler led) recorded as missed.
                #expect(silent.contains { $0.kind == "down" } && silent.allSatisfy {
                    ($0.kind == "down" && $0.message == "no push received yet") || ($0.kind == "skipped" && $0.message.hasPrefix("missed: "))
                }, "\(silent)")
                #expect(try await fixture.slots().allSatisfy { $0.kind != "job" }, "push monitors get no job")
                // Pushes every half second: every slot is up, with the push's message.
                for index in 0..<6 {
                    try await pushes.record(monitor: id, message: "run \(index) ok", durationMilliseconds: 12.5)
                    try await Task.sleep(for: .milliseconds(500))
                }
                try await pushes.record(monitor: id, status: .degraded, message: "slow run")
                try await Task.sleep(for: .seconds(1.1))
                let pushed = try await rows().dropFirst(silent.count)
                #expect(pushed.filter { $0.kind == "up" }.count >= 2, "\(pushed.map(\.kind))")
                #expect(pushed.contains { $0.kind == "up" && $0.message.hasPrefix("run ") })
                #expect(pushed.contains { $0.kind == "degraded" && $0.message == "slow run" }, "\(pushed.map(\.kind))")
                // Pushes stop: down, saying for how long.
                let stoppedAt = pushed.count + silent.count
                try await Task.sleep(for: .seconds(2.5))
                let after = try await rows().dropFirst(stoppedAt)
                #expect(after.contains { $0.kind == "down" && $0.message.hasPrefix("no push for ") }, "\(after.map(\.message))")
                expectContiguous(try await fixture.slots(), monitor: id, interval: 1_000)
            }
        }
    }

    @Test("while failing, a monitor is re-checked at its retry interval")
    func retryInterval() async throws {
        try await Fixture.with { fixture in
            let id = try await fixture.monitor("flaky", interval: 5_000, timeout: 500)
            _ = try await fixture.redis.send("SADD", fixture.keys.failing, String(id))
            // The reconciler keeps the failing set in line with monitor_state: mark it failing there too.
            _ = try await fixture.client.query(
                "INSERT INTO monitor_state (monitor_id, consecutive_failures) VALUES ($1, 1)", [id])
            let scheduler = fixture.scheduler()
            try await fixture.running([scheduler]) {
                try await Task.sleep(for: .seconds(7.5))
                let times = try await fixture.slots().filter { $0.monitor == id }.map(\.scheduledMicros).sorted()
                #expect(times.count >= 3, "\(times)")
                #expect(zip(times, times.dropFirst()).allSatisfy { $1 - $0 == 1_000_000 }, "re-checked every second: \(times)")
            }
        }
    }
}
