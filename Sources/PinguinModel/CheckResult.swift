public import Foundation

/// One stored result: the outcome of one due slot of one monitor at one location.
///
/// `(monitorID, scheduledAt, location)` identifies the slot; storing the same slot twice is a
/// no-op, which is what makes redelivery after a crash harmless.
public struct CheckResult: Sendable, Hashable {
    public var monitorID: Int64
    /// When the slot was due (the scheduler's clock), microsecond precision.
    public var scheduledAt: Date
    /// The supervisor's location tag. Default "default".
    public var location: String
    public var status: CheckStatus
    /// How long the slot stands for, in milliseconds: the monitor's interval when it was scheduled.
    /// Uptime weighs each result by it (see proto-docs/uptime.md).
    public var slotMilliseconds: Int32
    /// When the check started and finished; nil for slots that did not run (paused, skipped…).
    public var startedAt: Date?
    public var finishedAt: Date?
    /// The check's own latency as the checker measured it.
    public var latencyMilliseconds: Double?
    /// One line saying what happened.
    public var message: String
    /// Per-phase timings in milliseconds, as a JSON object (`{"dns":1.2,"connect":0.4}`).
    public var phases: String
    /// Kind-specific details, as a JSON object.
    public var details: String
    /// The supervisor that ran the check, if one did.
    public var supervisor: String?
    /// The job this result answers (from the jobs stream), if the supervisor passed it on.
    public var job: String?
    /// True for a check run on demand (`monitor.run`): it stands for no slot, so it is published
    /// as an event but neither stored nor counted in uptime.
    public var manual: Bool

    public init(
        monitorID: Int64, scheduledAt: Date, location: String = "default", status: CheckStatus,
        slotMilliseconds: Int32, startedAt: Date? = nil, finishedAt: Date? = nil, latencyMilliseconds: Double? = nil,
        message: String = "", phases: String = "{}", details: String = "{}", supervisor: String? = nil,
        job: String? = nil, manual: Bool = false
    ) {
        self.monitorID = monitorID
        self.scheduledAt = scheduledAt
        self.location = location
        self.status = status
        self.slotMilliseconds = slotMilliseconds
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.latencyMilliseconds = latencyMilliseconds
        self.message = message
        self.phases = phases
        self.details = details
        self.supervisor = supervisor
        self.job = job
        self.manual = manual
    }
}

/// Why a result from the results stream was rejected; `field` names the culprit.
public struct CheckResultError: Error, Sendable, CustomStringConvertible {
    public var field: String
    public var reason: String

    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }

    public var description: String { "field \"\(field)\": \(reason)" }
}
