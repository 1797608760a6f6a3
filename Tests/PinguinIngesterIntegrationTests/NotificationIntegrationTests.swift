import Foundation
import PinguinIngester
import PinguinModel
import PinguinNotify
import PinguinPostgres
import PinguinStore
import PinguinTestSupport
import PinguinWire
import Testing

/// Results go through the real pipeline (Redis stream, ingester, status engine, PostgreSQL), and
/// the notifications come out at local receivers the tests start. Each test asserts exactly what
/// arrived, how often and with what content.
@Suite("Notifications", .enabled(if: TestServices.postgresEnabled && TestServices.redisEnabled, Comment(rawValue: TestServices.skipReason)), .timeLimit(.minutes(3)))
struct NotificationIntegrationTests {
    /// A minute-aligned start an hour ago: slots are `start + n minutes`.
    static let start = Date(timeIntervalSince1970: ((Date().timeIntervalSince1970 - 3_600) / 60).rounded(.down) * 60)

    static func slot(_ monitor: Int64, _ minute: Int, _ status: CheckStatus, _ message: String? = nil) -> CheckResult {
        CheckResult(
            monitorID: monitor, scheduledAt: start.addingTimeInterval(Double(minute) * 60), status: status, slotMilliseconds: 60_000,
            message: message ?? "\(status.rawValue) \(minute)", supervisor: "sv-1")
    }

    static func time(_ minute: Int) -> String { RFC3339.string(start.addingTimeInterval(Double(minute) * 60)) }

    static func dispatcher(_ fixture: Fixture, owner: String = "sender-\(UUID().uuidString.prefix(6))", maxAttempts: Int = 10) -> OutboxDispatcher {
        var configuration = OutboxDispatcher.Configuration()
        configuration.owner = owner
        configuration.pollInterval = .milliseconds(50)
        configuration.retryInitial = .milliseconds(50)
        configuration.retryMaximum = .milliseconds(200)
        configuration.maxAttempts = maxAttempts
        configuration.reminderInterval = .milliseconds(200)
        return OutboxDispatcher(configuration: configuration, store: OutboxStore(client: fixture.postgres), logger: TestServices.logger())
    }

    @discardableResult
    static func channel(_ fixture: Fixture, _ kind: String, config: String, secrets: String = "{}", monitors: [Int64]) async throws -> Int64 {
        var draft = ChannelDraft(name: "\(kind)-\(UUID().uuidString.prefix(8))", kind: kind)
        draft.configJSON = config
        draft.secretsJSON = secrets
        draft.monitorIDs = monitors
        let outcome = try await ChannelStore(client: fixture.postgres).create(draft, actor: "test")
        guard case .saved(let record) = outcome else {
            Issue.record("channel not saved: \(outcome)")
            return 0
        }
        return record.id
    }

    /// Waits until exactly `count` requests arrived, then a little longer to see that no more come.
    static func settle(_ receiver: NotifyReceiver, count: Int, path: String? = nil) async throws -> [JSONObject] {
        func matching() -> [JSONObject] { receiver.received().filter { path == nil || $0["path"]?.stringValue == path } }
        try await eventually("\(count) requests arrived\(path.map { " at \($0)" } ?? "")") { matching().count >= count }
        try await Task.sleep(for: .milliseconds(600))
        let final = matching()
        #expect(final.count == count, "requests: \(final.map { $0["path"]?.stringValue ?? "" })")
        return final
    }

    /// The JSON example under "## The payload" in proto-docs/notifications.md.
    static func documentedPayload() throws -> JSONObject {
        let text = try String(contentsOf: TestServices.repositoryRoot.appendingPathComponent("proto-docs/notifications.md"), encoding: .utf8)
        let section = try #require(text.range(of: "## The payload"))
        let after = text[section.upperBound...]
        let open = try #require(after.range(of: "```json\n"))
        let close = try #require(after[open.upperBound...].range(of: "```"))
        return try #require(try JSONParser.parse(String(after[open.upperBound..<close.lowerBound])).objectValue)
    }

    static func body(_ request: JSONObject) -> JSONObject {
        request["body"]?.stringValue.flatMap { (try? JSONParser.parse($0))?.objectValue } ?? JSONObject()
    }

    static func outbox(_ fixture: Fixture) async throws -> [(event: String, state: String, attempts: Int, error: String?)] {
        try await fixture.postgres.query("SELECT event, state, attempts, last_error FROM notification_outbox ORDER BY id").map { row in
            (try row.decode(String.self, column: 0), try row.decode(String.self, column: 1), try row.decode(Int.self, column: 2),
             try row.decode(String?.self, column: 3))
        }
    }

    @Test("a two-failure blip sends nothing; an outage sends one down (its first failure, the incident) and one up (the outage's length), signed")
    func downAndUp() async throws {
        try await Fixture.with(monitors: 1) { fixture in
            let receiver = try await NotifyReceiver.http()
            defer { receiver.stopInBackground() }
            let monitor = fixture.monitors[0]
            try await Self.channel(fixture, "webhook", config: #"{"url":"\#(receiver.url("/hook"))","hmac":true,"headers":{"X-Team":"ops"}}"#,
                                   secrets: #"{"hmac_secret":"w3bh00k-s3cret"}"#, monitors: [monitor])
            let ingester = fixture.ingester(consumer: "notify", batchSize: 100, workers: 1, notifications: Self.dispatcher(fixture))
            try await running([ingester]) {
                try await fixture.publish([
                    Self.slot(monitor, 0, .up), Self.slot(monitor, 1, .down), Self.slot(monitor, 2, .down), Self.slot(monitor, 3, .up),
                    Self.slot(monitor, 4, .down, "connection refused"), Self.slot(monitor, 5, .down), Self.slot(monitor, 6, .down),
                    Self.slot(monitor, 7, .down, "timeout"), Self.slot(monitor, 8, .up, "200 OK"),
                ])
                let requests = try await Self.settle(receiver, count: 2)
                let incident = try await fixture.postgres.query("SELECT id FROM incidents WHERE monitor_id = $1", [monitor])
                #expect(incident.count == 1)
                let incidentID = try incident[0].decode(Int64.self, column: 0)

                let down = Self.body(requests[0])
                #expect(down["event"] == .string("down"))
                #expect(down["status"] == .string("down") && down["previous_status"] == .string("pending"))
                #expect(down["message"] == .string("connection refused"))
                #expect(down["at"] == .string(Self.time(6)))
                #expect(down["monitor"]?.objectValue?["id"]?.int64Value == monitor)
                #expect(down["monitor"]?.objectValue?["name"] == .string("m0"))
                let downIncident = down["incident"]?.objectValue
                #expect(downIncident?["id"]?.int64Value == incidentID)
                #expect(downIncident?["started_at"] == .string(Self.time(4)))
                #expect(downIncident?["ended_at"] == .null)
                #expect(downIncident?["failed_checks"]?.int64Value == 3)

                let up = Self.body(requests[1])
                #expect(up["event"] == .string("up"))
                #expect(up["outage_seconds"]?.doubleValue == 240)
                #expect(up["incident"]?.objectValue?["id"]?.int64Value == incidentID)
                #expect(up["incident"]?.objectValue?["ended_at"] == .string(Self.time(8)))
                #expect(up["incident"]?.objectValue?["failed_checks"]?.int64Value == 4)

                for (request, body) in zip(requests, [down, up]) {
                    let headers = request["headers"]?.objectValue ?? JSONObject()
                    #expect(headers["x-team"] == .string("ops"))
                    #expect(headers["x-pinguin-delivery"]?.stringValue == body["id"]?.int64Value.map(String.init))
                    #expect(headers["x-pinguin-event"] == body["event"])
                    let timestamp = headers["x-pinguin-timestamp"]?.stringValue ?? ""
                    let expected = PreparedDelivery.signature(
                        secret: "w3bh00k-s3cret", timestamp: timestamp, body: Array((request["body"]?.stringValue ?? "").utf8))
                    #expect(headers["x-pinguin-signature"] == .string("sha256=\(expected)"))
                    let sent = request["body"]?.stringValue ?? ""
                    #expect(sent.contains("w3bh00k-s3cret") == false)
                }
                // proto-docs/notifications.md's payload example has exactly the fields a real down has.
                let documented = try Self.documentedPayload()
                func shape(_ object: JSONObject) -> [String: [String]] {
                    var fields = ["": object.keys.sorted()]
                    for key in ["monitor", "incident", "channel"] { fields[key] = object[key]?.objectValue?.keys.sorted() ?? [] }
                    return fields
                }
                #expect(shape(documented) == shape(down))
                #expect(documented["event"] == .string("down"))
                let rows = try await Self.outbox(fixture)
                #expect(rows.map(\.event) == ["down", "up"])
                #expect(rows.allSatisfy { $0.state == "delivered" && $0.attempts == 1 && $0.error == nil })
            }
        }
    }

    @Test("upside-down turns success into the outage; degraded is its own notice, and its end is an up without an outage; a channel without monitors takes its namespace's")
    func upsideDownAndDegraded() async throws {
        try await Fixture.with(monitors: 2) { fixture in
            let receiver = try await NotifyReceiver.http()
            defer { receiver.stopInBackground() }
            let (inverted, slow) = (fixture.monitors[0], fixture.monitors[1])
            _ = try await fixture.postgres.query("UPDATE monitors SET upside_down = true WHERE id = $1", [inverted])
            // Linked to no monitor: the channel takes every monitor of its namespace, and none of another.
            try await Self.channel(fixture, "webhook", config: #"{"url":"\#(receiver.url("/hook"))"}"#, monitors: [])
            let elsewhere = try await Self.channel(fixture, "webhook", config: #"{"url":"\#(receiver.url("/elsewhere"))"}"#, monitors: [])
            _ = try await fixture.postgres.query("UPDATE notification_channels SET namespace = 'other' WHERE id = $1", [elsewhere])
            let ingester = fixture.ingester(consumer: "notify", batchSize: 100, workers: 1, notifications: Self.dispatcher(fixture))
            try await running([ingester]) {
                try await fixture.publish([
                    Self.slot(inverted, 0, .up, "port 23 open"), Self.slot(inverted, 1, .up), Self.slot(inverted, 2, .up), Self.slot(inverted, 3, .down),
                    Self.slot(slow, 0, .degraded, "answered in 2400 ms"), Self.slot(slow, 1, .degraded, "answered in 2600 ms"), Self.slot(slow, 2, .up),
                ])
                let bodies = try await Self.settle(receiver, count: 4).map(Self.body)
                let invertedEvents = bodies.filter { $0["monitor"]?.objectValue?["id"]?.int64Value == inverted }
                #expect(invertedEvents.map { $0["event"]?.stringValue ?? "" } == ["down", "up"])
                #expect(invertedEvents.first?["message"] == .string("upside-down: up counts as down: port 23 open"))
                #expect(invertedEvents.last?["outage_seconds"]?.doubleValue == 180)
                let slowEvents = bodies.filter { $0["monitor"]?.objectValue?["id"]?.int64Value == slow }
                #expect(slowEvents.map { $0["event"]?.stringValue ?? "" } == ["degraded", "up"])
                #expect(slowEvents.first?["message"] == .string("answered in 2600 ms"))
                #expect(slowEvents.last?["outage_seconds"] == nil)
                #expect(slowEvents.last?["previous_status"] == .string("degraded"))
            }
        }
    }

    @Test("a flapping monitor sends one flapping notice, not a storm: exactly what the status machine decides")
    func flapping() async throws {
        try await Fixture.with(monitors: 1) { fixture in
            let receiver = try await NotifyReceiver.http()
            defer { receiver.stopInBackground() }
            let monitor = fixture.monitors[0]
            _ = try await fixture.postgres.query("UPDATE monitors SET failure_threshold = 1 WHERE id = $1", [monitor])
            try await Self.channel(fixture, "webhook", config: #"{"url":"\#(receiver.url("/hook"))"}"#, monitors: [monitor])
            let results = (0..<30).map { Self.slot(monitor, $0, $0 % 2 == 0 ? .down : .up) }
            // The sans-IO machine, fed the same results, says which notices must come out.
            var state = MonitorStatusState()
            var expected: [String] = []
            for result in results {
                let step = StatusMachine.apply(
                    StatusInput(scheduledAt: result.scheduledAt, status: result.status, message: result.message), to: state,
                    policy: StatusPolicy(failureThreshold: 1))
                state = step.state
                for notice in step.notices {
                    switch notice {
                    case .down: expected.append("down")
                    case .up: expected.append("up")
                    case .degraded: expected.append("degraded")
                    case .flappingStarted, .flappingStopped: expected.append("flapping")
                    }
                }
            }
            #expect(expected.count(where: { $0 == "flapping" }) == 1)
            #expect(expected.count < 10, "30 alternating results must not page 30 times: \(expected)")
            let ingester = fixture.ingester(consumer: "notify", batchSize: 100, workers: 1, notifications: Self.dispatcher(fixture))
            try await running([ingester]) {
                try await fixture.publish(results)
                let bodies = try await Self.settle(receiver, count: expected.count).map(Self.body)
                #expect(bodies.map { $0["event"]?.stringValue ?? "" } == expected)
                let flap = bodies.first { $0["event"] == .string("flapping") }
                #expect(flap?["flapping"]?.objectValue?["state"] == .string("started"))
                #expect((flap?["flapping"]?.objectValue?["percent"]?.doubleValue ?? 0) >= 20)
            }
        }
    }

    @Test("a receiver that fails five times gets the sixth; a 4xx fails at once; a receiver that never recovers fails after the last attempt")
    func retries() async throws {
        try await Fixture.with(monitors: 1) { fixture in
            let receiver = try await NotifyReceiver.http()
            defer { receiver.stopInBackground() }
            let monitor = fixture.monitors[0]
            let flaky = try await Self.channel(fixture, "webhook", config: #"{"url":"\#(receiver.url("/fail/5/hook"))"}"#, monitors: [monitor])
            let refusing = try await Self.channel(fixture, "slack", config: #"{"webhook_url":"\#(receiver.url("/status/400/slack"))"}"#, monitors: [monitor])
            let gone = try await Self.channel(fixture, "discord", config: #"{"webhook_url":"\#(receiver.url("/status/503/discord"))"}"#, monitors: [monitor])
            let ingester = fixture.ingester(consumer: "notify", batchSize: 100, workers: 1, notifications: Self.dispatcher(fixture, maxAttempts: 3 + 4))
            try await running([ingester]) {
                try await fixture.publish((0..<3).map { Self.slot(monitor, $0, .down) })
                let flakyRequests = try await Self.settle(receiver, count: 6, path: "/fail/5/hook")
                #expect(flakyRequests.map { $0["answered"]?.int64Value ?? 0 } == [500, 500, 500, 500, 500, 200])
                #expect(Set(flakyRequests.map { $0["headers"]?.objectValue?["x-pinguin-delivery"]?.stringValue ?? "" }).count == 1)
                _ = try await Self.settle(receiver, count: 1, path: "/status/400/slack")
                _ = try await Self.settle(receiver, count: 7, path: "/status/503/discord")
                let rows = try await fixture.postgres.query(
                    "SELECT channel_id, state, attempts, last_error FROM notification_outbox ORDER BY channel_id")
                let settled = try rows.map { (try $0.decode(Int64.self, column: 0), try $0.decode(String.self, column: 1),
                                                try $0.decode(Int.self, column: 2), try $0.decode(String?.self, column: 3)) }
                #expect(settled.count == 3)
                #expect(settled.first { $0.0 == flaky }.map { $0.1 == "delivered" && $0.2 == 6 && $0.3 == nil } == true)
                let refused = settled.first { $0.0 == refusing }
                #expect(refused?.1 == "failed" && refused?.2 == 1)
                #expect(refused?.3?.hasPrefix("the receiver answered HTTP 400") == true)
                let exhausted = settled.first { $0.0 == gone }
                #expect(exhausted?.1 == "failed" && exhausted?.2 == 7)
                #expect(exhausted?.3 == "the receiver answered HTTP 503: status 503")
                #expect(try await StoredProblems.load(client: fixture.postgres)
                    == ["2 notifications failed for good in the last 24 hours (notification.list with state failed says why)"])
            }
        }
    }

    @Test("an ingester killed between the state change and the send: the next one sends it, once; an outage that ended meanwhile still gets its up")
    func survivesCrash() async throws {
        try await Fixture.with(monitors: 1) { fixture in
            let receiver = try await NotifyReceiver.http()
            defer { receiver.stopInBackground() }
            let monitor = fixture.monitors[0]
            try await Self.channel(fixture, "webhook", config: #"{"url":"\#(receiver.url("/hook"))"}"#, monitors: [monitor])
            // The first ingester stores the outage and queues its notification, but sends nothing.
            let first = fixture.ingester(consumer: "first", batchSize: 100, workers: 1)
            try await running([first]) {
                try await fixture.publish((0..<3).map { Self.slot(monitor, $0, .down) })
                try await eventually("the down notification is queued") { try await Self.outbox(fixture).count == 1 }
            }
            // Its sender had claimed the row when it died: the lease ran out.
            _ = try await fixture.postgres.query("""
                UPDATE notification_outbox SET state = 'sending', attempts = 1, locked_by = 'dead-sender',
                    locked_until = now() - interval '1 second'
                """)
            // The monitor recovers while no ingester runs.
            try await fixture.publish([Self.slot(monitor, 3, .up)])
            #expect(receiver.received().isEmpty)
            let second = fixture.ingester(consumer: "second", batchSize: 100, workers: 1, notifications: Self.dispatcher(fixture))
            try await running([second]) {
                let bodies = try await Self.settle(receiver, count: 2).map(Self.body)
                #expect(bodies.map { $0["event"]?.stringValue ?? "" } == ["down", "up"])
                #expect(bodies.last?["outage_seconds"]?.doubleValue == 180)
                let rows = try await Self.outbox(fixture)
                #expect(rows.map(\.state) == ["delivered", "delivered"])
                #expect(rows.map(\.attempts) == [2, 1])
            }
        }
    }

    @Test("two ingesters at once: every notification is decided once and delivered once")
    func twoIngesters() async throws {
        try await Fixture.with(monitors: 40) { fixture in
            let receiver = try await NotifyReceiver.http()
            defer { receiver.stopInBackground() }
            try await Self.channel(fixture, "webhook", config: #"{"url":"\#(receiver.url("/hook"))"}"#, monitors: fixture.monitors)
            let ingesters = [
                fixture.ingester(consumer: "a", batchSize: 7, workers: 1, notifications: Self.dispatcher(fixture, owner: "sender-a")),
                fixture.ingester(consumer: "b", batchSize: 7, workers: 1, notifications: Self.dispatcher(fixture, owner: "sender-b")),
            ]
            try await running(ingesters) {
                // One result per monitor per round, each round stored before the next: the
                // ingesters share every round, and no monitor's slots can commit out of order.
                // Each monitor checked from a location of its own: 40 monitors failing through one
                // supervisor would make it suspect and hold their alerts (see supervisorSuspicion).
                for minute in 0..<4 {
                    try await fixture.publish(fixture.monitors.map { monitor in
                        var result = Self.slot(monitor, minute, minute == 3 ? .up : .down)
                        result.supervisor = "sv-\(monitor)"
                        return result
                    })
                    try await eventually("round \(minute) is stored") { try await fixture.storedRows() == 40 * (minute + 1) }
                }
                let bodies = try await Self.settle(receiver, count: 80).map(Self.body)
                #expect(Set(bodies.compactMap { $0["id"]?.int64Value }).count == 80)
                for monitor in fixture.monitors {
                    let events = bodies.filter { $0["monitor"]?.objectValue?["id"]?.int64Value == monitor }.map { $0["event"]?.stringValue ?? "" }
                    #expect(events == ["down", "up"], "monitor \(monitor)")
                }
                #expect(ingesters[0].statistics.inserted + ingesters[1].statistics.inserted == 160)
                let sent = (ingesters[0].notifications?.statistics.delivered ?? 0, ingesters[1].notifications?.statistics.delivered ?? 0)
                #expect(sent.0 + sent.1 == 80)
            }
        }
    }

    @Test("reminders repeat while the monitor stays down, numbered, and stop when it is up")
    func reminders() async throws {
        try await Fixture.with(monitors: 1) { fixture in
            let receiver = try await NotifyReceiver.http()
            defer { receiver.stopInBackground() }
            let monitor = fixture.monitors[0]
            // One second between reminders (the API's minimum is a minute; the store takes what it is given).
            try await Self.channel(fixture, "webhook", config: #"{"url":"\#(receiver.url("/hook"))","reminder_interval_ms":1000}"#, monitors: [monitor])
            let ingester = fixture.ingester(consumer: "notify", batchSize: 100, workers: 1, notifications: Self.dispatcher(fixture))
            try await running([ingester]) {
                try await fixture.publish((0..<3).map { Self.slot(monitor, $0, .down) })
                try await eventually("two reminders") { receiver.received().count >= 3 }
                try await fixture.publish([Self.slot(monitor, 3, .up)])
                try await eventually("the up") { receiver.bodies(at: "/hook").contains { $0["event"] == .string("up") } }
                try await Task.sleep(for: .milliseconds(1_500))
                let bodies = receiver.bodies(at: "/hook")
                let events = bodies.map { $0["event"]?.stringValue ?? "" }
                #expect(events.first == "down" && events.last == "up", "\(events)")
                let reminders = bodies.filter { $0["event"] == .string("reminder") }
                #expect(reminders.count >= 2 && reminders.count == events.count - 2, "\(events)")
                #expect(reminders.map { $0["reminder"]?.objectValue?["number"]?.int64Value ?? 0 } == Array(1...Int64(reminders.count)))
                let incident = bodies.first?["incident"]?.objectValue?["id"]
                #expect(reminders.allSatisfy { $0["incident"]?.objectValue?["id"] == incident && $0["status"] == .string("down") })
            }
        }
    }

    @Test("a maintenance window: its slots are stored as maintenance with what the check said, nothing alerts, confirmation starts anew after it, uptime leaves it out")
    func maintenance() async throws {
        try await Fixture.with(monitors: 2) { fixture in
            let receiver = try await NotifyReceiver.http()
            defer { receiver.stopInBackground() }
            let (covered, other) = (fixture.monitors[0], fixture.monitors[1])
            _ = try await fixture.postgres.query("UPDATE monitors SET tags = '{db}' WHERE id = $1", [covered])
            var window = MaintenanceDraft(name: "db upgrade")
            window.startsAt = Self.start.addingTimeInterval(3 * 60)
            window.endsAt = Self.start.addingTimeInterval(7 * 60)
            window.tags = ["db"]
            guard case .saved = try await MaintenanceStore(client: fixture.postgres).create(window, actor: "test") else {
                Issue.record("window not saved")
                return
            }
            try await Self.channel(fixture, "webhook", config: #"{"url":"\#(receiver.url("/hook"))"}"#, monitors: [covered, other])
            let ingester = fixture.ingester(consumer: "notify", batchSize: 100, workers: 1, notifications: Self.dispatcher(fixture))
            try await running([ingester]) {
                // Two failures before the window, four in it, three after: only the three after count.
                try await fixture.publish([Self.slot(covered, 0, .up)] + (1...9).map { Self.slot(covered, $0, .down, "refused \($0)") }
                                          + (0...5).map { Self.slot(other, $0, $0 >= 3 ? .down : .up) })
                let bodies = try await Self.settle(receiver, count: 2).map(Self.body)
                let coveredDown = bodies.first { $0["monitor"]?.objectValue?["id"]?.int64Value == covered }
                #expect(coveredDown?["event"] == .string("down"))
                #expect(coveredDown?["incident"]?.objectValue?["started_at"] == .string(Self.time(7)))
                #expect(coveredDown?["message"] == .string("refused 7"))
                #expect(coveredDown?["at"] == .string(Self.time(9)))
                // A monitor outside the window is judged as usual.
                #expect(bodies.first { $0["monitor"]?.objectValue?["id"]?.int64Value == other }?["incident"]?.objectValue?["started_at"] == .string(Self.time(3)))
            }
            let stored = try await fixture.postgres.query(
                "SELECT status, message FROM results WHERE monitor_id = $1 ORDER BY scheduled_at", [covered]).map {
                    (try $0.decode(String.self, column: 0), try $0.decode(String.self, column: 1))
                }
            #expect(stored.map(\.0) == ["up", "down", "down", "maintenance", "maintenance", "maintenance", "maintenance", "down", "down", "down"])
            #expect(stored[3].1 == "maintenance window \"db upgrade\" (1); the check said down: refused 3")
            let uptimes = try await PartitionedResultStorage(client: fixture.postgres, logger: TestServices.logger())
                .uptime(monitorIDs: [covered], from: Self.start, to: Self.start.addingTimeInterval(10 * 60))
            let uptime = try #require(uptimes[covered])
            let (excluded, down, up) = (uptime.excludedMilliseconds, uptime.downMilliseconds, uptime.upMilliseconds)
            #expect(excluded == 240_000)
            #expect(down == 300_000)
            #expect(up == 60_000)
            #expect(ingester.statistics.maintenance == 4)
        }
    }

    @Test("certificate expiry: one notice per certificate and threshold crossed, per channel's days; a renewed certificate starts over; garbage is ignored")
    func certificateExpiry() async throws {
        try await Fixture.with(monitors: 1) { fixture in
            let receiver = try await NotifyReceiver.http()
            defer { receiver.stopInBackground() }
            let monitor = fixture.monitors[0]
            try await Self.channel(fixture, "webhook", config: #"{"url":"\#(receiver.url("/default"))"}"#, monitors: [monitor])
            try await Self.channel(fixture, "webhook", config: #"{"url":"\#(receiver.url("/month"))","certificate_expiry_days":[30],"events":["certificate_expiring"]}"#,
                                   monitors: [monitor])
            try await Self.channel(fixture, "webhook", config: #"{"url":"\#(receiver.url("/downs"))","events":["down"]}"#, monitors: [monitor])
            func result(_ minute: Int, details: String) -> CheckResult {
                var result = Self.slot(monitor, minute, .up, "200 OK")
                result.details = details
                return result
            }
            func expiring(_ minute: Int, inDays days: Double) -> String {
                RFC3339.string(Self.start.addingTimeInterval(Double(minute) * 60 + days * 86_400))
            }
            let ingester = fixture.ingester(consumer: "notify", batchSize: 100, workers: 1, notifications: Self.dispatcher(fixture))
            try await running([ingester]) {
                // One result at a time: each batch's newest result per monitor is the one looked at.
                let batches = [
                    // http's details: the chain's earliest expiry (an intermediate, 5.5 days) wins over the leaf's.
                    result(0, details: #"{"certificate":{"subject":"CN=shop","not_after":"\#(expiring(0, inDays: 60))","earliest_expiry":{"not_after":"\#(expiring(0, inDays: 5.5))","subject":"CN=Shop CA"}}}"#),
                    result(1, details: #"{"certificate":{"subject":"CN=shop","not_after":"\#(expiring(0, inDays: 60))","earliest_expiry":{"not_after":"\#(expiring(0, inDays: 5.5))","subject":"CN=Shop CA"}}}"#),
                    // tcp's details, 40 days: within no threshold of either channel.
                    result(2, details: #"{"tls":{"certificate":{"subject":"CN=shop","not_after":"\#(expiring(2, inDays: 40))"}}}"#),
                    result(3, details: #"{"certificate":{"not_after":"soon"},"tls":"yes"}"#),
                    // Renewed badly: another certificate, 2.5 days.
                    result(4, details: #"{"certificate":{"subject":"CN=shop","not_after":"\#(expiring(4, inDays: 2.5))"}}"#),
                ]
                for (index, batch) in batches.enumerated() {
                    try await fixture.publish([batch])
                    try await eventually("result \(index) is stored") { try await fixture.storedRows() == index + 1 }
                }
                let defaults = try await Self.settle(receiver, count: 2, path: "/default").map(Self.body)
                #expect(defaults.map { $0["certificate"]?.objectValue?["threshold_days"]?.int64Value ?? 0 } == [7, 3])
                #expect(defaults.map { $0["certificate"]?.objectValue?["days_left"]?.int64Value ?? -1 } == [5, 2])
                #expect(defaults.first?["event"] == .string("certificate_expiring"))
                #expect(defaults.first?["message"] == .string("the certificate expires in 5 days (\(expiring(0, inDays: 5.5))): CN=Shop CA"))
                #expect(defaults.first?["at"] == .string(Self.time(0)))
                let month = try await Self.settle(receiver, count: 2, path: "/month").map(Self.body)
                #expect(month.map { $0["certificate"]?.objectValue?["threshold_days"]?.int64Value ?? 0 } == [30, 30])
                #expect(receiver.bodies(at: "/downs").isEmpty)
            }
        }
    }

    @Test("most of one supervisor's checks failing at once: one notice about the supervisor, none per monitor; real failures elsewhere still alert")
    func supervisorSuspicion() async throws {
        try await Fixture.with(monitors: 22) { fixture in
            let receiver = try await NotifyReceiver.http()
            defer { receiver.stopInBackground() }
            let (broken, healthy) = (Array(fixture.monitors.prefix(20)), Array(fixture.monitors.suffix(2)))
            try await Self.channel(fixture, "webhook", config: #"{"url":"\#(receiver.url("/hook"))"}"#, monitors: [])
            func round(_ minute: Int, broken brokenStatus: CheckStatus, healthy healthyStatus: CheckStatus) -> [CheckResult] {
                broken.map { id in
                    var result = Self.slot(id, minute, brokenStatus, brokenStatus == .down ? "connection timed out" : "200 OK")
                    result.supervisor = "sv-lost"
                    return result
                } + healthy.map { id in
                    var result = Self.slot(id, minute, healthyStatus, healthyStatus == .down ? "503 Service Unavailable" : "200 OK")
                    result.supervisor = "sv-fine"
                    return result
                }
            }
            let ingester = fixture.ingester(consumer: "notify", batchSize: 100, workers: 1, notifications: Self.dispatcher(fixture))
            try await running([ingester]) {
                let rounds = [round(0, broken: .up, healthy: .up)] + (1...3).map { round($0, broken: .down, healthy: .down) }
                    + (4...5).map { round($0, broken: .up, healthy: .up) }
                for (index, results) in rounds.enumerated() {
                    try await fixture.publish(results)
                    try await eventually("round \(index) is stored") { try await fixture.storedRows() == 22 * (index + 1) }
                    if index == 3 {
                        // system.health lists it meanwhile.
                        let problems = try await StoredProblems.load(client: fixture.postgres)
                        #expect(problems.count == 1, "\(problems)")
                        #expect(problems.first?.hasPrefix("supervisor sv-lost is suspect since ") == true)
                        #expect(problems.first?.hasSuffix(": 20 of 20 checks failed at once; alerts from its checks are held back") == true)
                    }
                }
                let bodies = try await Self.settle(receiver, count: 6).map(Self.body)
                let suspects = bodies.filter { $0["event"] == .string("supervisor_suspect") }
                #expect(suspects.map { $0["supervisor"]?.objectValue?["state"]?.stringValue ?? "" } == ["started", "cleared"])
                #expect(suspects.first?["supervisor"]?.objectValue?["name"] == .string("sv-lost"))
                #expect(suspects.first?["supervisor"]?.objectValue?["checks"]?.int64Value == 20)
                #expect(suspects.first?["supervisor"]?.objectValue?["failures"]?.int64Value == 20)
                #expect(suspects.first?["message"]?.stringValue?.hasPrefix("20 of 20 checks by supervisor sv-lost failed at once") == true)
                let perMonitor = bodies.filter { $0["event"] != .string("supervisor_suspect") }
                let alerted = Set(perMonitor.compactMap { $0["monitor"]?.objectValue?["id"]?.int64Value })
                #expect(alerted == Set(healthy))
                #expect(perMonitor.map { $0["event"]?.stringValue ?? "" }.sorted() == ["down", "down", "up", "up"])
            }
            // The held monitors were down all the same: their statuses and incidents are recorded.
            let incidents = try await fixture.postgres.query(
                "SELECT count(*) FROM incidents WHERE monitor_id = ANY($1) AND ended_at IS NOT NULL", [broken])
            #expect(try incidents[0].decode(Int.self, column: 0) == 20)
            #expect(try await fixture.postgres.query("SELECT count(*) FROM supervisor_suspicions")[0].decode(Int.self, column: 0) == 0)
        }
    }

    @Test("dependencies: servers behind a router that fails page once, for the router; their incidents point to its; a server still down when the router is back is announced then")
    func dependencies() async throws {
        try await Fixture.with(monitors: 4) { fixture in
            let receiver = try await NotifyReceiver.http()
            defer { receiver.stopInBackground() }
            // The router has the highest id: the engine must judge it first all the same.
            let (web1, web2, db, router) = (fixture.monitors[0], fixture.monitors[1], fixture.monitors[2], fixture.monitors[3])
            _ = try await fixture.postgres.query(
                "INSERT INTO monitor_dependencies (monitor_id, depends_on) VALUES ($1, $3), ($2, $3)", [web1, web2, router])
            try await Self.channel(fixture, "webhook", config: #"{"url":"\#(receiver.url("/hook"))"}"#, monitors: [])
            func round(_ minute: Int, router routerStatus: CheckStatus, web1 web1Status: CheckStatus, web2 web2Status: CheckStatus) -> [CheckResult] {
                [Self.slot(router, minute, routerStatus), Self.slot(web1, minute, web1Status), Self.slot(web2, minute, web2Status),
                 Self.slot(db, minute, .up)]
            }
            let ingester = fixture.ingester(consumer: "notify", batchSize: 100, workers: 1, notifications: Self.dispatcher(fixture))
            try await running([ingester]) {
                let rounds = [round(0, router: .up, web1: .up, web2: .up)] + (1...3).map { round($0, router: .down, web1: .down, web2: .down) }
                    + [round(4, router: .up, web1: .up, web2: .down)]
                for (index, results) in rounds.enumerated() {
                    try await fixture.publish(results)
                    try await eventually("round \(index) is stored") { try await fixture.storedRows() == 4 * (index + 1) }
                }
                let bodies = try await Self.settle(receiver, count: 3).map(Self.body)
                let sent = bodies.map { "\($0["event"]?.stringValue ?? "") \($0["monitor"]?.objectValue?["id"]?.int64Value ?? 0)" }
                // Order holds per monitor; the router's up and web2's down of the same batch may arrive either way round.
                #expect(sent.first == "down \(router)")
                #expect(sent.sorted() == ["down \(router)", "down \(web2)", "up \(router)"].sorted())
                // web2's outage began with the router's, at minute 1: the announcement says so.
                #expect(bodies.last?["incident"]?.objectValue?["started_at"] == .string(Self.time(1)))
            }
            let incidents = try await fixture.postgres.query(
                "SELECT monitor_id, caused_by, ended_at IS NULL FROM incidents ORDER BY monitor_id").map {
                    (try $0.decode(Int64.self, column: 0), try $0.decode(Int64?.self, column: 1), try $0.decode(Bool.self, column: 2))
                }
            let routerIncident = try await fixture.postgres.query("SELECT id FROM incidents WHERE monitor_id = $1", [router])[0].decode(Int64.self, column: 0)
            #expect(incidents.count == 3)
            #expect(incidents.first { $0.0 == web1 }.map { $0.1 == routerIncident && !$0.2 } == true)
            #expect(incidents.first { $0.0 == web2 }.map { $0.1 == routerIncident && $0.2 } == true)
            #expect(incidents.first { $0.0 == router }.map { $0.1 == nil && !$0.2 } == true)
        }
    }

    @Test("one down reaches every kind of channel in its own format: webhook, Slack, Discord, Teams, Telegram, ntfy, Gotify, PagerDuty, email over STARTTLS with login, exec")
    func everyKind() async throws {
        try await Fixture.with(monitors: 1) { fixture in
            let receiver = try await NotifyReceiver.http()
            let smtp = try await NotifyReceiver.smtp(["--starttls", "--require-tls", "--auth", "pinguin:m41l-pass"], tls: true)
            let execDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("pinguin-exec-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: execDirectory, withIntermediateDirectories: true)
            defer {
                receiver.stopInBackground()
                smtp.stopInBackground()
                try? FileManager.default.removeItem(at: execDirectory)
            }
            let monitor = fixture.monitors[0]
            let m = [monitor]
            try await Self.channel(fixture, "webhook", config: #"{"url":"\#(receiver.url("/webhook"))"}"#, monitors: m)
            try await Self.channel(fixture, "slack", config: "{}", secrets: #"{"webhook_url":"\#(receiver.url("/slack"))"}"#, monitors: m)
            try await Self.channel(fixture, "discord", config: #"{"webhook_url":"\#(receiver.url("/discord"))"}"#, monitors: m)
            try await Self.channel(fixture, "teams", config: "{}", secrets: #"{"webhook_url":"\#(receiver.url("/teams"))"}"#, monitors: m)
            try await Self.channel(fixture, "telegram", config: #"{"chat_id":-100200300,"api_url":"\#(receiver.url("/tg"))"}"#,
                                   secrets: #"{"bot_token":"123456:AAH-tok_en"}"#, monitors: m)
            try await Self.channel(fixture, "ntfy", config: #"{"url":"\#(receiver.url("/ntfy"))","topic":"ops"}"#, secrets: #"{"token":"tk_ntfy"}"#, monitors: m)
            try await Self.channel(fixture, "gotify", config: #"{"url":"\#(receiver.url("/gotify"))"}"#, secrets: #"{"token":"AgotifyK"}"#, monitors: m)
            try await Self.channel(fixture, "pagerduty", config: #"{"events_url":"\#(receiver.url("/pd"))"}"#, secrets: #"{"routing_key":"R0UT1NGKEY"}"#, monitors: m)
            try await Self.channel(
                fixture, "email",
                config: #"{"smtp_url":"smtp://127.0.0.1:\#(smtp.port)","from":"Pinguin <pinguin@example.org>","to":["ops@example.org"],"starttls":true,"ca_file":"\#(smtp.certificatePath)"}"#,
                secrets: #"{"username":"pinguin","password":"m41l-pass"}"#, monitors: m)
            try await Self.channel(
                fixture, "exec", config: #"{"command":["/bin/sh","-c","cat > \#(execDirectory.path)/$PINGUIN_EVENT-$PINGUIN_MONITOR_ID.json"]}"#, monitors: m)
            let ingester = fixture.ingester(consumer: "notify", batchSize: 100, workers: 1, notifications: Self.dispatcher(fixture))
            try await running([ingester]) {
                try await fixture.publish((0..<3).map { Self.slot(monitor, $0, .down, "connection refused") })
                let requests = try await Self.settle(receiver, count: 8)
                func only(_ path: String) -> JSONObject {
                    let matching = requests.filter { $0["path"]?.stringValue == path }
                    #expect(matching.count == 1, "\(path)")
                    return matching.first ?? JSONObject()
                }
                #expect(Self.body(only("/webhook"))["event"] == .string("down"))
                #expect(Self.body(only("/slack"))["text"]?.stringValue?.hasPrefix("*m0 is down*\nconnection refused") == true)
                #expect(Self.body(only("/discord"))["content"]?.stringValue?.hasPrefix("**m0 is down**") == true)
                #expect(Self.body(only("/teams"))["type"] == .string("message"))
                let telegram = Self.body(only("/tg/bot123456:AAH-tok_en/sendMessage"))
                #expect(telegram["chat_id"]?.int64Value == -100200300)
                #expect(telegram["text"]?.stringValue?.hasPrefix("m0 is down\nconnection refused") == true)
                let ntfy = only("/ntfy")
                #expect(ntfy["headers"]?.objectValue?["authorization"] == .string("Bearer tk_ntfy"))
                #expect(Self.body(ntfy)["title"] == .string("m0 is down"))
                let gotify = only("/gotify/message")
                #expect(gotify["headers"]?.objectValue?["x-gotify-key"] == .string("AgotifyK"))
                #expect(Self.body(gotify)["priority"]?.int64Value == 8)
                let pagerDuty = Self.body(only("/pd"))
                #expect(pagerDuty["routing_key"] == .string("R0UT1NGKEY") && pagerDuty["event_action"] == .string("trigger"))
                #expect(pagerDuty["dedup_key"] == .string("pinguin-monitor-\(monitor)"))

                try await eventually("the email arrived") { !smtp.received().isEmpty }
                let mails = smtp.received()
                #expect(mails.count == 1)
                #expect(mails.first?["auth_user"] == .string("pinguin"))
                #expect(mails.first?["tls"] == .bool(true))
                #expect(mails.first?["rcpt_tos"] == .array([.string("ops@example.org")]))
                #expect(mails.first?["mail_from"] == .string("pinguin@example.org"))
                let data = mails.first?["data"]?.stringValue ?? ""
                #expect(data.contains("Subject: [Pinguin] m0 is down"))
                #expect(data.contains("connection refused"))

                let execFile = execDirectory.appendingPathComponent("down-\(monitor).json").path
                try await eventually("the exec channel ran") { FileManager.default.fileExists(atPath: execFile) }
                try await Task.sleep(for: .milliseconds(200))
                let written = try JSONParser.parse(String(contentsOfFile: execFile, encoding: .utf8).trimmingCharacters(in: .newlines)).objectValue
                #expect(written?["event"] == .string("down"))
                #expect(written?["monitor"]?.objectValue?["id"]?.int64Value == monitor)

                let rows = try await Self.outbox(fixture)
                #expect(rows.count == 10)
                #expect(rows.allSatisfy { $0.state == "delivered" }, "\(rows)")
            }
        }
    }
}
