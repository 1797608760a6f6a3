public import Foundation
public import PinguinWire

/// One `check.run`: what to check, how, and by when.
public struct CheckRequest: Sendable {
    /// The job's id, for logs (answers are matched by the JSON-RPC id, which the kit handles).
    public var checkID: String
    public var monitorID: Int64?
    /// One of the kinds the plugin declared.
    public var kind: String
    public var target: String
    /// Valid against the kind's config schema, its top-level defaults filled in.
    public var config: JSONObject
    /// The absolute deadline on this process's clock. The kit cancels the check's task when it
    /// passes, so a check only has to be cancellable (`Task.sleep`, `Task.checkCancellation()`…).
    public var deadline: ContinuousClock.Instant
    /// The time the supervisor allowed when it wrote the request (`timeout_ms`).
    public var timeout: Duration
    /// When the check was due, if the supervisor said.
    public var scheduledAt: Date?

    public init(
        checkID: String, monitorID: Int64? = nil, kind: String, target: String, config: JSONObject,
        deadline: ContinuousClock.Instant, timeout: Duration, scheduledAt: Date? = nil
    ) {
        self.checkID = checkID
        self.monitorID = monitorID
        self.kind = kind
        self.target = target
        self.config = config
        self.deadline = deadline
        self.timeout = timeout
        self.scheduledAt = scheduledAt
    }

    /// Time left before the deadline (negative once it has passed).
    public var remaining: Duration { ContinuousClock.now.duration(to: deadline) }
}
