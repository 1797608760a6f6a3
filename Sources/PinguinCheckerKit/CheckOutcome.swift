public import PinguinWire

/// The result of one check, turned by the kit into a `check.run` result.
public struct CheckOutcome: Sendable {
    public var status: CheckStatus
    /// One line saying what happened. The kit replaces newlines and cuts it at 1024 characters.
    public var message: String
    /// The check's latency in milliseconds; nil lets the kit measure the whole check.
    public var latencyMilliseconds: Double?
    /// Per-phase timings in milliseconds (`dns`, `connect`, `tls`, `first_byte`, `transfer`…), in order.
    public var phases: [(name: String, milliseconds: Double)]
    /// Kind-specific facts (at most 64 KiB as JSON).
    public var details: JSONObject
    public var metrics: [CheckMetric]
    /// Why the check failed, as a stable word (`timeout`, `refused`, `status_mismatch`…); the kit
    /// makes it match `^[a-z][a-z0-9_]{0,62}$`.
    public var errorKind: String?

    public init(
        status: CheckStatus, message: String, latencyMilliseconds: Double? = nil,
        phases: [(name: String, milliseconds: Double)] = [], details: JSONObject = JSONObject(),
        metrics: [CheckMetric] = [], errorKind: String? = nil
    ) {
        self.status = status
        self.message = message
        self.latencyMilliseconds = latencyMilliseconds
        self.phases = phases
        self.details = details
        self.metrics = metrics
        self.errorKind = errorKind
    }

    public static func up(_ message: String, details: JSONObject = JSONObject()) -> CheckOutcome {
        CheckOutcome(status: .up, message: message, details: details)
    }

    public static func down(_ message: String, errorKind: String, details: JSONObject = JSONObject()) -> CheckOutcome {
        CheckOutcome(status: .down, message: message, details: details, errorKind: errorKind)
    }

    public static func degraded(_ message: String, errorKind: String? = nil, details: JSONObject = JSONObject()) -> CheckOutcome {
        CheckOutcome(status: .degraded, message: message, details: details, errorKind: errorKind)
    }
}
