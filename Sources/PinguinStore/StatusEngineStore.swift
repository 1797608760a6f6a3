public import Foundation
public import PinguinModel
public import PinguinPostgres

/// One monitor's status change, decided while a batch of results was stored.
public struct StatusChange: Sendable, Hashable {
    public var monitorID: Int64
    public var from: MonitorStatus
    public var to: MonitorStatus
    public var at: Date
    public var notices: [StatusNotice]
}

/// An incident the status engine opened or closed while a batch was stored.
public struct IncidentUpdate: Sendable, Hashable {
    public enum Action: String, Sendable, Hashable {
        case opened
        case closed
    }

    public var id: Int64
    public var monitorID: Int64
    /// `closed` for an incident that ended in the batch, even one that also began in it.
    public var action: Action
    public var startedAt: Date
    public var endedAt: Date?
    public var firstMessage: String
    public var lastMessage: String
    public var failedChecks: Int
}

/// The status engine's storage side: inside the transaction that stores a batch of results, it
/// locks the `monitor_state` rows of the batch's monitors (in id order, as every writer does),
/// runs ``StatusMachine`` over the new rows in slot order, and writes the new state and the
/// incidents. Only rows that were really inserted reach it, and the machine ignores a slot that
/// is not newer than the last one it judged, so redelivery and two ingesters change nothing twice.
enum StatusEngineStore {
    private struct Pending {
        var state: MonitorStatusState
        var policy: StatusPolicy
        var changed = false
        /// The open incident's start before the result being judged (an up notice names it).
        var incidentStartedBefore: Date?
    }

    /// What a batch does to the incident that was open before it.
    private struct ExistingIncident {
        var addedFailures = 0
        var lastMessage: String?
        var endedAt: Date?
    }

    /// An incident opened in the batch.
    private struct NewIncident {
        var startedAt: Date
        var firstMessage: String
        var lastMessage: String
        var failedChecks: Int
        var endedAt: Date?
    }

    /// What the engine decided for one batch.
    struct Decisions {
        var changes: [StatusChange] = []
        var incidents: [IncidentUpdate] = []
        /// Every judged monitor's ``MonitorStatusState/isFailing(under:)`` after the batch.
        var failing: [Int64: Bool] = [:]
    }

    /// Runs in the open transaction of `connection`, after the batch's rows are in
    /// `results_inserted`.
    static func apply(_ connection: PostgresConnection) async throws -> Decisions {
        let states = try await connection.query("""
            SELECT s.monitor_id, s.engine::text, m.failure_threshold, m.recovery_threshold, m.upside_down
            FROM monitor_state s JOIN monitors m ON m.id = s.monitor_id
            WHERE s.monitor_id IN (SELECT DISTINCT monitor_id FROM results_inserted)
            ORDER BY s.monitor_id FOR UPDATE OF s
            """)
        guard !states.isEmpty else { return Decisions() }
        var monitors: [Int64: Pending] = [:]
        for row in states {
            let id = try row.decode(Int64.self, column: 0)
            // A state that cannot be read (hand-edited) starts over rather than stopping ingestion.
            let state = MonitorStatusState(engineJSON: try row.decode(String.self, column: 1))
            let policy = StatusPolicy(
                failureThreshold: try row.decode(Int.self, column: 2), recoveryThreshold: try row.decode(Int.self, column: 3),
                upsideDown: try row.decode(Bool.self, column: 4))
            monitors[id] = Pending(state: state, policy: policy)
        }
        // A supervisor whose checks mostly fail at once is suspected: its results are judged with alerts held.
        let suspected = try await SupervisorSuspicion.update(connection)
        let rows = try await connection.query("""
            SELECT monitor_id, (extract(epoch FROM scheduled_at) * 1000000)::bigint, status, message, coalesce(supervisor, '')
            FROM results_inserted ORDER BY monitor_id, scheduled_at
            """)
        // Incident writes are gathered per monitor and sent as two statements per batch, however
        // many monitors change: the incident open before the batch (more failed checks, perhaps
        // closed), and incidents opened in the batch (perhaps closed in it too).
        var existing: [Int64: ExistingIncident] = [:]
        var created: [Int64: [NewIncident]] = [:]
        var changes: [StatusChange] = []
        var outbox = OutboxNotices()
        // Dependencies are judged before their dependents; a dependent is held while one is down or failing.
        var batch: [Int64: [(at: Date, status: CheckStatus, message: String, supervisor: String)]] = [:]
        for row in rows {
            guard let status = CheckStatus(rawValue: try row.decode(String.self, column: 2)) else { continue }
            batch[try row.decode(Int64.self, column: 0), default: []].append((
                Date(unixMicroseconds: try row.decode(Int64.self, column: 1)), status, try row.decode(String.self, column: 3),
                try row.decode(String.self, column: 4)))
        }
        let holds = try await DependencyHolds.load(connection, monitors: Set(batch.keys))
        var heldIncidents: [Int64: Int64] = [:]   // monitor → the dependency that held its new incident
        for (id, at, status, message, supervisor) in holds.order(Array(batch.keys)).flatMap({ id in batch[id]!.map { (id, $0.at, $0.status, $0.message, $0.supervisor) } }) {
            guard var monitor = monitors[id] else { continue }
            let holdingDependency = holds.holdingDependency(of: id) { monitors[$0]?.state }
            let held = suspected.contains(supervisor) || holdingDependency != nil
            let step = StatusMachine.apply(
                StatusInput(scheduledAt: at, status: status, message: message, holdAlerts: held), to: monitor.state, policy: monitor.policy)
            guard step.ignored == nil else { continue }
            monitor.incidentStartedBefore = monitor.state.incidentStartedAt
            monitor.state = step.state
            monitor.changed = true
            let openHere = created[id]?.lastIndex { $0.endedAt == nil }
            if case .open? = step.incident, let holdingDependency { heldIncidents[id] = holdingDependency }
            switch step.incident {
            case .open(let startedAt, let firstMessage)?:
                created[id, default: []].append(NewIncident(
                    startedAt: startedAt, firstMessage: firstMessage, lastMessage: message, failedChecks: max(step.state.failures, 1)))
            case .failedCheck(let failure)?:
                if let openHere {
                    created[id]![openHere].failedChecks += 1
                    created[id]![openHere].lastMessage = failure
                } else {
                    existing[id, default: ExistingIncident()].addedFailures += 1
                    existing[id, default: ExistingIncident()].lastMessage = failure
                }
            case .close(let endedAt, _)?:
                if let openHere {
                    created[id]![openHere].endedAt = max(endedAt, created[id]![openHere].startedAt)
                } else {
                    existing[id, default: ExistingIncident()].endedAt = endedAt
                }
            case nil:
                break
            }
            let openedWith: Int? = if case .open? = step.incident { max(step.state.failures, 1) } else { nil }
            for notice in step.notices {
                outbox.add(notice, monitorID: id, at: at, message: message, from: step.previousStatus ?? step.state.status,
                           to: step.state.status, closedIncidentStartedAt: monitor.incidentStartedBefore, failedChecks: openedWith)
            }
            if let previous = step.previousStatus {
                changes.append(StatusChange(monitorID: id, from: previous, to: step.state.status, at: at, notices: step.notices))
            } else if !step.notices.isEmpty {
                changes.append(StatusChange(monitorID: id, from: step.state.status, to: step.state.status, at: at, notices: step.notices))
            }
            monitors[id] = monitor
        }
        var incidents: [IncidentUpdate] = []
        func collect(_ rows: PostgresRows, onlyClosed: Bool) throws {
            for row in rows {
                let endedAt = try row.decode(Date?.self, column: 3)
                if onlyClosed && endedAt == nil { continue }
                incidents.append(IncidentUpdate(
                    id: try row.decode(Int64.self, column: 0), monitorID: try row.decode(Int64.self, column: 1),
                    action: endedAt == nil ? .opened : .closed, startedAt: try row.decode(Date.self, column: 2), endedAt: endedAt,
                    firstMessage: try row.decode(String.self, column: 4), lastMessage: try row.decode(String.self, column: 5),
                    failedChecks: try row.decode(Int.self, column: 6)))
            }
        }
        let returning = "RETURNING i.id, i.monitor_id, i.started_at, i.ended_at, i.first_message, i.last_message, i.failed_checks"
        if !existing.isEmpty {
            let sorted = existing.sorted { $0.key < $1.key }
            try collect(try await connection.query("""
                UPDATE incidents i SET failed_checks = i.failed_checks + u.added,
                    last_message = CASE WHEN u.has_last THEN u.last_message ELSE i.last_message END,
                    ended_at = CASE WHEN u.ended_us < 0 THEN NULL
                                    ELSE greatest(timestamptz 'epoch' + u.ended_us * interval '1 microsecond', i.started_at) END
                FROM unnest($1::bigint[], $2::bigint[], $3::bool[], $4::text[], $5::bigint[])
                    AS u (monitor_id, added, has_last, last_message, ended_us)
                WHERE i.monitor_id = u.monitor_id AND i.ended_at IS NULL
                \(returning)
                """, [sorted.map(\.key), sorted.map { Int64($0.value.addedFailures) }, sorted.map { $0.value.lastMessage != nil },
                      sorted.map { $0.value.lastMessage ?? "" }, sorted.map { $0.value.endedAt?.unixMicroseconds ?? -1 }]), onlyClosed: true)
        }
        let existingCount = incidents.count
        let opened = created.sorted { $0.key < $1.key }.flatMap { id, incidents in incidents.map { (id, $0) } }
        if !opened.isEmpty {
            try collect(try await connection.query("""
                INSERT INTO incidents AS i (monitor_id, started_at, first_message, last_message, failed_checks, ended_at)
                SELECT u.monitor_id, timestamptz 'epoch' + u.started_us * interval '1 microsecond', u.first_message, u.last_message,
                       u.failed_checks,
                       CASE WHEN u.ended_us < 0 THEN NULL ELSE timestamptz 'epoch' + u.ended_us * interval '1 microsecond' END
                FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::bigint[])
                    AS u (monitor_id, started_us, first_message, last_message, failed_checks, ended_us)
                ORDER BY u.monitor_id, u.started_us
                \(returning)
                """, [opened.map(\.0), opened.map { $0.1.startedAt.unixMicroseconds }, opened.map(\.1.firstMessage),
                      opened.map(\.1.lastMessage), opened.map { Int64($0.1.failedChecks) }, opened.map { $0.1.endedAt?.unixMicroseconds ?? -1 }]),
                onlyClosed: false)
        }
        // Incidents opened in this batch (the INSERT's, after those of the UPDATE) while a dependency held them.
        try await DependencyHolds.linkIncidents(connection, incidents.suffix(from: existingCount).compactMap { update in
            heldIncidents[update.monitorID].map { (update.id, $0) }
        })
        var ids: [Int64] = [], statuses: [String] = [], since: [Int64] = [], failures: [Int64] = [], successes: [Int64] = [], engines: [String] = []
        for (id, monitor) in monitors.sorted(by: { $0.key < $1.key }) where monitor.changed {
            ids.append(id)
            statuses.append(monitor.state.status.rawValue)
            since.append((monitor.state.since ?? monitor.state.lastScheduledAt ?? Date()).unixMicroseconds)
            failures.append(Int64(monitor.state.failures))
            successes.append(Int64(monitor.state.successes))
            engines.append(monitor.state.engineJSON)
        }
        if !ids.isEmpty {
            _ = try await connection.query("""
                UPDATE monitor_state s SET status = u.status,
                    status_since = timestamptz 'epoch' + u.since * interval '1 microsecond',
                    consecutive_failures = u.failures, consecutive_successes = u.successes, engine = u.engine::jsonb
                FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[])
                    AS u (monitor_id, status, since, failures, successes, engine)
                WHERE s.monitor_id = u.monitor_id
                """, [ids, statuses, since, failures, successes, engines])
        }
        // Notifications go into the outbox in this transaction, after the incidents they name.
        _ = try await outbox.queue(connection)
        _ = try await CertificateNotices.queue(connection)
        return Decisions(
            changes: changes, incidents: incidents,
            failing: monitors.mapValues { $0.state.isFailing(under: $0.policy) })
    }
}
