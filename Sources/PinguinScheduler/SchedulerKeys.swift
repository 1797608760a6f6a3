/// The scheduler's Redis keys (proto-docs/scheduler.md). All carry the `{pinguin}` hash tag, so
/// every key a script touches is in one Redis Cluster slot.
public struct SchedulerKeys: Sendable, Hashable {
    /// Sorted set: monitor id → its next slot, in ms since 1970.
    public var due: String
    /// Hash: monitor id → the monitor's spec (JSON), as the dispatch script needs it.
    public var specs: String
    /// Hash: monitor id → `deadline_ms:job` of the job in flight.
    public var inFlight: String
    /// Set: monitors failing but not yet confirmed down (checked at their retry interval).
    public var failing: String
    /// The jobs stream supervisors read.
    public var jobs: String
    /// The results stream; the scheduler writes rows for slots that do not run (paused, skipped, missed).
    public var results: String
    /// String: the leader's instance id, with the lease as its expiry.
    public var leader: String
    /// Counter: the fencing token, raised at every change of leader.
    public var epoch: String
    /// Hash: the leader's figures (dispatch counts, lag), for system.health.
    public var statistics: String
    /// Pub/sub channel: monitor ids the control plane changed, to reconcile at once.
    public var changes: String
    /// Hash: push monitor id → its latest push, `at_ms|status|duration_ms|message`.
    public var pushes: String

    /// The keys of one Pinguin installation; `namespace` other than `pinguin` isolates tests.
    public init(prefix: String = "{pinguin}") {
        due = prefix + ":due"
        specs = prefix + ":specs"
        inFlight = prefix + ":inflight"
        failing = prefix + ":failing"
        jobs = prefix + ":jobs"
        results = prefix + ":results"
        leader = prefix + ":scheduler:leader"
        epoch = prefix + ":scheduler:epoch"
        statistics = prefix + ":scheduler:stats"
        changes = prefix + ":changes"
        pushes = prefix + ":pushes"
    }

    public static let standard = SchedulerKeys()

    /// The keys the dispatch script takes, in its order.
    var dispatchKeys: [String] { [due, specs, inFlight, failing, jobs, results, leader, epoch, pushes] }
}

/// Where a monitor's slots fall: every `interval`, shifted by a stable per-monitor offset, so that
/// monitors with the same interval are spread over it instead of firing together.
public enum SlotClock {
    /// The offset of `monitor`'s slots inside its interval: a hash of the id (SplitMix64), so it
    /// is the same on every scheduler and after every restart.
    public static func offset(monitor: Int64, interval: Int64) -> Int64 {
        var z = UInt64(bitPattern: monitor) &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Int64(z % UInt64(interval))
    }

    /// The first slot strictly after `time` (ms since 1970).
    public static func nextSlot(after time: Int64, interval: Int64, offset: Int64) -> Int64 {
        let base = time - offset
        let index = base >= 0 ? base / interval + 1 : -((-base) / interval)
        return index * interval + offset
    }
}
