import Foundation
import PinguinModel
import PinguinPostgres
import PinguinStore
import PinguinTestSupport
import Testing

/// 30 hours of one-minute results from 2026-03-01T22:00Z, with known stretches:
/// down 01:00–01:30 on March 2, maintenance 03:00–04:00, unknown 05:00–05:10, degraded 06:00–06:05,
/// and no results at all (Pinguin itself was down) 10:00–12:00.
private func fixtureResults(monitor: Int64) -> [CheckResult] {
    let start = at("2026-03-01T22:00:00Z")
    var results: [CheckResult] = []
    for minute in 0..<(30 * 60) {
        let time = start.addingTimeInterval(Double(minute) * 60)
        let clock = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: time)
        let day = clock.day!, hour = clock.hour!, minuteOfHour = clock.minute!
        var status = CheckStatus.up
        if day == 2 {
            switch (hour, minuteOfHour) {
            case (1, 0..<30): status = .down
            case (3, _): status = .maintenance
            case (5, 0..<10): status = .unknown
            case (6, 0..<5): status = .degraded
            case (10, _), (11, _): continue
            default: break
            }
        }
        results.append(CheckResult(
            monitorID: monitor, scheduledAt: time, status: status, slotMilliseconds: 60_000,
            startedAt: time, finishedAt: time.addingTimeInterval(0.05),
            latencyMilliseconds: status == .up ? Double(minute % 100 + 1) : nil,
            message: status.rawValue, details: #"{"minute":\#(minute)}"#, supervisor: "sv-1"))
    }
    return results
}

/// Uptime computed the slow, obvious way: every result whose slot starts in the range.
private func expectedUptime(_ results: [CheckResult], from: Date, to: Date) -> (up: Int64, down: Int64, excluded: Int64) {
    var up: Int64 = 0, down: Int64 = 0, excluded: Int64 = 0
    for result in results where result.scheduledAt >= from && result.scheduledAt < to {
        switch result.status.countsAsUp {
        case true?: up += Int64(result.slotMilliseconds)
        case false?: down += Int64(result.slotMilliseconds)
        case nil: excluded += Int64(result.slotMilliseconds)
        }
    }
    return (up, down, excluded)
}

@Suite("Result storage", .enabled(if: TestServices.postgresEnabled, Comment(rawValue: TestServices.skipReason)), .timeLimit(.minutes(2)))
struct ResultStorageIntegrationTests {
    @Test("uptime matches hand-computed numbers, with maintenance, unknown and a gap")
    func uptimeFixtures() async throws {
        try await StoreFixture.with { fixture in
            let id = try await fixture.monitor("fixture")
            let results = fixtureResults(monitor: id)
            #expect(results.count == 1680)
            let outcome = try await fixture.storage.write(results)
            #expect(outcome.inserted == 1680)
            // First from minutes and raw results only; hours and days are built further down.
            let unbuilt = try #require(try await fixture.storage.uptime(monitorIDs: [id], from: at("2026-03-02T00:00:00Z"), to: at("2026-03-03T00:00:00Z"))[id])
            #expect(unbuilt.ratio == 1220.0 / 1250.0)
            let report = try await fixture.storage.maintain(now: at("2026-03-05T00:00:00Z"), retention: RetentionPolicy())
            #expect(report.rollupRowsBuilt == 28 + 3)  // 30 hours less the 2-hour gap; March 1–3; March is not over

            // March 2, the whole day: 1440 slots less the 120-minute gap = 1320 results;
            // down 30 min; maintenance 60 + unknown 10 excluded; up 1220 min (5 of them degraded).
            let day = try #require(try await fixture.storage.uptime(monitorIDs: [id], from: at("2026-03-02T00:00:00Z"), to: at("2026-03-03T00:00:00Z"))[id])
            #expect(day.upMilliseconds == 1220 * 60_000)
            #expect(day.downMilliseconds == 30 * 60_000)
            #expect(day.excludedMilliseconds == 70 * 60_000)
            #expect(day.checks == 1320)
            #expect(day.ratio == 1220.0 / 1250.0)

            // Odd edges: 00:59:30 to 01:45 covers slots 01:00…01:44: 30 down, 15 up.
            let edges = try #require(try await fixture.storage.uptime(monitorIDs: [id], from: at("2026-03-02T00:59:30Z"), to: at("2026-03-02T01:45:00Z"))[id])
            #expect(edges.downMilliseconds == 30 * 60_000)
            #expect(edges.upMilliseconds == 15 * 60_000)
            #expect(edges.ratio == 15.0 / 45.0)

            // Across midnight: 23:30 to 02:00, 150 slots, 30 down.
            let midnight = try #require(try await fixture.storage.uptime(monitorIDs: [id], from: at("2026-03-01T23:30:00Z"), to: at("2026-03-02T02:00:00Z"))[id])
            #expect(midnight.ratio == 0.8)

            // Only maintenance: nothing counts, so there is no ratio.
            let maintenance = try #require(try await fixture.storage.uptime(monitorIDs: [id], from: at("2026-03-02T03:00:00Z"), to: at("2026-03-02T04:00:00Z"))[id])
            #expect(maintenance.ratio == nil)
            #expect(maintenance.excludedMilliseconds == 3_600_000)

            // Inside the gap there is no data at all.
            #expect(try await fixture.storage.uptime(monitorIDs: [id], from: at("2026-03-02T10:00:00Z"), to: at("2026-03-02T12:00:00Z"))[id] == nil)

            // Any range: rollups plus raw edges give exactly what the raw rows give.
            var generator = SystemRandomNumberGenerator()
            let first = at("2026-03-01T21:00:00Z").timeIntervalSince1970
            for _ in 0..<60 {
                let a = first + Double.random(in: 0..<(32 * 3600), using: &generator)
                let b = a + Double.random(in: 1..<(32 * 3600), using: &generator)
                let from = Date(timeIntervalSince1970: (a * 1000).rounded() / 1000), to = Date(timeIntervalSince1970: (b * 1000).rounded() / 1000)
                let expected = expectedUptime(results, from: from, to: to)
                let got = try await fixture.storage.uptime(monitorIDs: [id], from: from, to: to)[id]
                #expect(got?.upMilliseconds ?? 0 == expected.up, "\(from)…\(to)")
                #expect(got?.downMilliseconds ?? 0 == expected.down, "\(from)…\(to)")
                #expect(got?.excludedMilliseconds ?? 0 == expected.excluded, "\(from)…\(to)")
            }
        }
    }

    @Test("long ranges use month rollups built once a month is over, and late results still count")
    func months() async throws {
        try await StoreFixture.with { fixture in
            let id = try await fixture.monitor("hourly", interval: 3_600_000)
            let start = at("2026-01-01T00:00:00Z")
            var results: [CheckResult] = []
            for hour in 0..<(99 * 24) {
                var status = CheckStatus.up
                if hour % 10 == 0 { status = .down } else if hour % 25 == 0 { status = .maintenance }
                let time = start.addingTimeInterval(Double(hour) * 3_600)
                results.append(CheckResult(monitorID: id, scheduledAt: time, status: status, slotMilliseconds: 3_600_000))
            }
            _ = try await fixture.storage.write(results)
            _ = try await fixture.storage.maintain(now: at("2026-04-15T00:00:00Z"), retention: RetentionPolicy())
            let months = try await fixture.client.query("SELECT bucket, checks FROM results_rollup_1mo ORDER BY bucket")
            #expect(try months.map { try $0.decode(Date.self, column: 0) } == [at("2026-01-01T00:00:00Z"), at("2026-02-01T00:00:00Z"), at("2026-03-01T00:00:00Z")])
            #expect(try months.map { try $0.decode(Int.self, column: 1) } == [31 * 24, 28 * 24, 31 * 24])

            // A long range is widened to whole hours: 00:30 on January 1 counts from 00:00.
            let from = at("2026-01-01T00:30:00Z"), to = at("2026-04-09T12:00:00Z")
            let expected = expectedUptime(results, from: at("2026-01-01T00:00:00Z"), to: to)
            let got = try #require(try await fixture.storage.uptime(monitorIDs: [id], from: from, to: to)[id])
            #expect(got.upMilliseconds == expected.up)
            #expect(got.downMilliseconds == expected.down)
            #expect(got.excludedMilliseconds == expected.excluded)

            // A result arriving late for a month already built goes into that month too.
            let late = CheckResult(monitorID: id, scheduledAt: at("2026-02-10T00:30:00Z"), status: .down, slotMilliseconds: 3_600_000)
            #expect(try await fixture.storage.write([late]).inserted == 1)
            let after = try #require(try await fixture.storage.uptime(monitorIDs: [id], from: from, to: to)[id])
            #expect(after.downMilliseconds == expected.down + 3_600_000)
            let february = try await fixture.client.query("SELECT checks FROM results_rollup_1mo WHERE bucket = $1", [at("2026-02-01T00:00:00Z")])
            #expect(try february[0].decode(Int.self, column: 0) == 28 * 24 + 1)
        }
    }

    @Test("writing the same results again changes nothing")
    func idempotentWrites() async throws {
        try await StoreFixture.with { fixture in
            let id = try await fixture.monitor("redelivered")
            let results = Array(fixtureResults(monitor: id).prefix(500))
            #expect(try await fixture.storage.write(results).counts == ResultWriteOutcome(inserted: 500, duplicates: 0, orphans: 0).counts)
            // Redelivery, whole and partial, shuffled.
            #expect(try await fixture.storage.write(results.shuffled()).counts == ResultWriteOutcome(inserted: 0, duplicates: 500, orphans: 0).counts)
            let more = Array(fixtureResults(monitor: id).prefix(600))
            #expect(try await fixture.storage.write(more).counts == ResultWriteOutcome(inserted: 100, duplicates: 500, orphans: 0).counts)
            _ = try await fixture.storage.maintain(now: at("2026-03-04T00:00:00Z"), retention: RetentionPolicy())
            // Redelivery after the hours and days were built goes to them directly.
            #expect(try await fixture.storage.write(more).counts == ResultWriteOutcome(inserted: 0, duplicates: 600, orphans: 0).counts)
            let counts = try await fixture.client.query("""
                SELECT (SELECT count(*) FROM results), (SELECT sum(checks) FROM results_rollup_1m),
                       (SELECT sum(checks) FROM results_rollup_1h), (SELECT sum(checks) FROM results_rollup_1d)
                """)
            for column in 0..<4 {
                #expect(try counts[0].decode(Int.self, column: column) == 600)
            }
        }
    }

    @Test("results of deleted monitors are not stored, and deleting a monitor removes its results")
    func orphans() async throws {
        try await StoreFixture.with { fixture in
            let kept = try await fixture.monitor("kept")
            let gone = try await fixture.monitor("gone")
            let now = at("2026-03-02T00:00:00Z")
            _ = try await fixture.storage.write([CheckResult(monitorID: gone, scheduledAt: now, status: .up, slotMilliseconds: 60_000)])
            #expect(try await fixture.monitors.delete(id: gone))
            #expect(try await fixture.monitors.delete(id: gone) == false)
            let outcome = try await fixture.storage.write([
                CheckResult(monitorID: kept, scheduledAt: now, status: .up, slotMilliseconds: 60_000),
                CheckResult(monitorID: gone, scheduledAt: now.addingTimeInterval(60), status: .down, slotMilliseconds: 60_000),
                CheckResult(monitorID: 999_999, scheduledAt: now, status: .down, slotMilliseconds: 60_000),
            ])
            #expect(outcome.counts == ResultWriteOutcome(inserted: 1, duplicates: 0, orphans: 2).counts)
            let rows = try await fixture.client.query("SELECT DISTINCT monitor_id FROM results UNION SELECT DISTINCT monitor_id FROM results_rollup_1d")
            #expect(try rows.map { try $0.decode(Int64.self, column: 0) } == [kept])
        }
    }

    @Test("retention drops old partitions and old rollup rows, and creates partitions ahead")
    func retention() async throws {
        try await StoreFixture.with { fixture in
            let id = try await fixture.monitor("old")
            let now = at("2026-06-15T12:00:00Z")
            let old = now.addingTimeInterval(-40 * 86_400)
            let recent = now.addingTimeInterval(-86_400)
            let ancient = now.addingTimeInterval(-500 * 86_400)
            _ = try await fixture.storage.write([
                CheckResult(monitorID: id, scheduledAt: ancient, status: .up, slotMilliseconds: 60_000),
                CheckResult(monitorID: id, scheduledAt: old, status: .up, slotMilliseconds: 60_000),
                CheckResult(monitorID: id, scheduledAt: recent, status: .down, slotMilliseconds: 60_000),
            ])
            var policy = RetentionPolicy()
            policy.resultDays = 31
            policy.minuteRollupDays = 31
            policy.hourRollupDays = 400
            let report = try await fixture.storage.maintain(now: now, retention: policy)
            #expect(report.partitionsDropped >= 4)  // results and minute rollups of the two old days
            #expect(report.rollupRowsDeleted == 1)  // the ancient hour bucket
            #expect(report.partitionsCreated > 0)
            let raw = try await fixture.client.query("SELECT scheduled_at FROM results")
            #expect(try raw.map { try $0.decode(Date.self, column: 0) } == [recent])
            let counts = try await fixture.client.query("""
                SELECT (SELECT count(*) FROM results_rollup_1m), (SELECT count(*) FROM results_rollup_1h),
                       (SELECT count(*) FROM results_rollup_1d)
                """)
            #expect(try counts[0].decode(Int.self, column: 0) == 1)
            #expect(try counts[0].decode(Int.self, column: 1) == 2)
            #expect(try counts[0].decode(Int.self, column: 2) == 3)  // days are kept for ever by default
            // Partitions exist for a week ahead, so writes at midnight never wait on DDL.
            let ahead = try await fixture.client.query("SELECT to_regclass('results_p20260622') IS NOT NULL")
            #expect(try ahead[0].decode(Bool.self, column: 0))
            // Uptime over the year still counts the ancient day from the day rollup.
            let year = try await fixture.storage.uptime(monitorIDs: [id], from: now.addingTimeInterval(-600 * 86_400), to: now)
            #expect(year[id]?.checks == 3)
        }
    }

    @Test("a partition dropped by another process's retention pass is created again on the next write")
    func droppedPartition() async throws {
        try await StoreFixture.with { fixture in
            let id = try await fixture.monitor("late")
            let day = at("2026-05-01T10:00:00Z")
            _ = try await fixture.storage.write([CheckResult(monitorID: id, scheduledAt: day, status: .up, slotMilliseconds: 60_000)])
            // Another pinguind with a short retention drops that day behind this storage's back.
            let dropped = try await fixture.client.query("SELECT pinguin_drop_daily_partitions_before('results', '2026-05-02')")
            #expect(try dropped[0].decode(Int32.self, column: 0) >= 1)
            let outcome = try await fixture.storage.write([CheckResult(monitorID: id, scheduledAt: day.addingTimeInterval(60), status: .up, slotMilliseconds: 60_000)])
            #expect(outcome.inserted == 1)
        }
    }

    @Test("results page newest first without gaps or repeats")
    func pagination() async throws {
        try await StoreFixture.with { fixture in
            let id = try await fixture.monitor("paged")
            let results = fixtureResults(monitor: id)
            _ = try await fixture.storage.write(results)
            var seen: [Date] = []
            var cursor: ResultCursor?
            repeat {
                let page = try await fixture.storage.results(
                    monitorID: id, from: at("2026-03-02T00:00:00Z"), to: at("2026-03-02T06:00:00Z"), limit: 100, before: cursor)
                seen += page.results.map(\.scheduledAt)
                cursor = page.next
            } while cursor != nil
            #expect(seen.count == 360)
            #expect(seen == seen.sorted(by: >))
            #expect(Set(seen).count == 360)
            let first = try await fixture.storage.results(monitorID: id, from: at("2026-03-02T01:00:00Z"), to: at("2026-03-02T01:01:00Z"), limit: 10, before: nil)
            #expect(first.results.count == 1)
            #expect(first.results[0].status == .down)
            #expect(first.results[0].details == #"{"minute": 180}"#)
            #expect(first.results[0].supervisor == "sv-1")
            await #expect(throws: StoreError.self) {
                try await fixture.storage.results(monitorID: id, from: .distantPast, to: .distantFuture, limit: 0, before: nil)
            }
        }
    }

    @Test("latency percentiles and last status")
    func latencyAndLastStatus() async throws {
        try await StoreFixture.with { fixture in
            let a = try await fixture.monitor("a")
            let b = try await fixture.monitor("b")
            let start = at("2026-03-02T00:00:00Z")
            var batch: [CheckResult] = []
            for i in 0..<100 {
                batch.append(CheckResult(monitorID: a, scheduledAt: start.addingTimeInterval(Double(i) * 60), status: .up,
                                         slotMilliseconds: 60_000, latencyMilliseconds: Double(i + 1)))
            }
            batch.append(CheckResult(monitorID: b, scheduledAt: start, status: .down, slotMilliseconds: 60_000, message: "refused"))
            batch.append(CheckResult(monitorID: a, scheduledAt: start.addingTimeInterval(100 * 60), status: .unknown,
                                     slotMilliseconds: 60_000, message: "plugin timeout"))
            _ = try await fixture.storage.write(batch.shuffled())
            let latency = try await fixture.storage.latency(monitorID: a, from: start, to: start.addingTimeInterval(86_400))
            #expect(latency.count == 100)
            #expect(latency.minimum == 1)
            #expect(latency.maximum == 100)
            #expect(latency.mean == 50.5)
            #expect(latency.p50 == 50.5)
            #expect(abs((latency.p95 ?? 0) - 95.05) < 1e-9)
            #expect(abs((latency.p99 ?? 0) - 99.01) < 1e-9)
            let last = try await fixture.storage.lastStatus(monitorIDs: [a, b, 12345])
            #expect(last.count == 2)
            #expect(last[a]?.status == .unknown)
            #expect(last[a]?.message == "plugin timeout")
            #expect(last[b]?.status == .down)
            // An older result arriving late does not overwrite the last status.
            _ = try await fixture.storage.write([CheckResult(monitorID: a, scheduledAt: start.addingTimeInterval(-60), status: .down, slotMilliseconds: 60_000)])
            #expect(try await fixture.storage.lastStatus(monitorIDs: [a])[a]?.status == .unknown)
        }
    }

    @Test("storage engine detection reports native partitioning here")
    func detection() async throws {
        try await StoreFixture.with { fixture in
            let detection = try await Storage.detect(client: fixture.client)
            #expect(detection.engine == .nativePartitioning)
            #expect(detection.note.contains("native range partitioning"))
        }
    }
}
