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

extension CheckJob {
    /// Decodes a jobs-stream entry; the error names the first bad field.
    public init(streamFields fields: [String: [UInt8]]) throws(CheckResultError) {
        func text(_ name: String) throws(CheckResultError) -> String {
            guard let bytes = fields[name] else { throw CheckResultError(field: name, reason: "is missing") }
            guard let text = String(validating: bytes, as: UTF8.self), !bytes.contains(0) else {
                throw CheckResultError(field: name, reason: "is not valid UTF-8 text")
            }
            return text
        }
        func integer(_ name: String, in range: ClosedRange<Int64>) throws(CheckResultError) -> Int64 {
            let raw = try text(name)
            guard let value = Int64(raw), range.contains(value) else {
                throw CheckResultError(field: name, reason: "\"\(raw.prefix(40))\" is not an integer in \(range.lowerBound)...\(range.upperBound)")
            }
            return value
        }
        let id = try text(StreamField.job)
        guard !id.isEmpty else { throw CheckResultError(field: StreamField.job, reason: "is empty") }
        let monitor = try integer(StreamField.monitor, in: 1...Int64.max)
        let kind = try text(StreamField.kind)
        guard !kind.isEmpty else { throw CheckResultError(field: StreamField.kind, reason: "is empty") }
        let target = try text(StreamField.target)
        let config = try text(StreamField.config)
        let timeout = try integer(StreamField.timeout, in: 1...86_400_000)
        let scheduled = try integer(StreamField.scheduled, in: 946_684_800_000_000...7_258_118_400_000_000)
        let slot = try integer(StreamField.slot, in: 1...Int64(Int32.max))
        let manual = fields[StreamField.manual].map { $0 == Array("1".utf8) } ?? false
        let locations = try fields[StreamField.locations] == nil ? [] : text(StreamField.locations)
            .split(separator: ",").map { String($0) }.filter { !$0.isEmpty }
        let fence = try fields[StreamField.fence] == nil ? nil : integer(StreamField.fence, in: 0...Int64.max)
        self.init(
            id: id, monitorID: monitor, kind: kind, target: target, config: config, timeoutMilliseconds: Int32(timeout),
            scheduledAt: Date(unixMicroseconds: scheduled), slotMilliseconds: Int32(slot), manual: manual,
            locations: locations, fence: fence)
    }
}
