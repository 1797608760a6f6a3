public import Foundation

/// One check to run: an entry of the jobs stream (proto-docs/redis.md, "Jobs stream"), written by
/// the scheduler for due slots and by the control plane for `monitor.run`, read by supervisors.
///
/// Like results, jobs use flat stream fields: times as integer microseconds since 1970, numbers in
/// decimal, the config as a JSON object text.
public struct CheckJob: Sendable, Hashable {
    /// Unique per slot (`<monitor>:<scheduled µs>`) or per manual run (`run:<uuid>`); the result
    /// carries it back.
    public var id: String
    public var monitorID: Int64
    public var kind: String
    public var target: String
    /// The monitor's config, a JSON object text.
    public var config: String
    public var timeoutMilliseconds: Int32
    /// When the slot was due; for a manual run, when it was asked for.
    public var scheduledAt: Date
    /// The slot's length (the monitor's interval).
    public var slotMilliseconds: Int32
    /// A check run on demand: its result stands for no slot and is not stored.
    public var manual: Bool
    /// Locations allowed to run it; empty means any.
    public var locations: [String]
    /// The fencing token of the scheduler leader that dispatched it; nil for manual runs.
    public var fence: Int64?

    public init(
        id: String, monitorID: Int64, kind: String, target: String, config: String, timeoutMilliseconds: Int32,
        scheduledAt: Date, slotMilliseconds: Int32, manual: Bool = false, locations: [String] = [], fence: Int64? = nil
    ) {
        self.id = id
        self.monitorID = monitorID
        self.kind = kind
        self.target = target
        self.config = config
        self.timeoutMilliseconds = timeoutMilliseconds
        self.scheduledAt = scheduledAt
        self.slotMilliseconds = slotMilliseconds
        self.manual = manual
        self.locations = locations
        self.fence = fence
    }

    /// The jobs stream's key.
    public static let stream = "{pinguin}:jobs"

    public enum StreamField {
        public static let job = "job"
        public static let monitor = "monitor"
        public static let kind = "kind"
        public static let target = "target"
        public static let config = "config"
        public static let timeout = "timeout_ms"
        public static let scheduled = "scheduled"
        public static let slot = "slot_ms"
        public static let manual = "manual"
        public static let locations = "locations"
        public static let fence = "fence"
    }

    /// The stream fields, in a stable order. `locations` is a comma-separated list.
    public var streamFields: [(String, String)] {
        var fields: [(String, String)] = [
            (StreamField.job, id),
            (StreamField.monitor, String(monitorID)),
            (StreamField.kind, kind),
            (StreamField.target, target),
            (StreamField.config, config),
            (StreamField.timeout, String(timeoutMilliseconds)),
            (StreamField.scheduled, String(scheduledAt.unixMicroseconds)),
            (StreamField.slot, String(slotMilliseconds)),
        ]
        if manual { fields.append((StreamField.manual, "1")) }
        if !locations.isEmpty { fields.append((StreamField.locations, locations.joined(separator: ","))) }
        if let fence { fields.append((StreamField.fence, String(fence))) }
        return fields
    }
}

/// Where events travel between roles: one Redis pub/sub channel (proto-docs/events.md).
public enum EventBus {
    /// Every event message is published here: a JSON array of event objects.
    public static let channel = "{pinguin}:events"
}
