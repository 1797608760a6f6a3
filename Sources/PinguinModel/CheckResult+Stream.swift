public import Foundation

/// The results stream's entry format (proto-docs/redis.md, "Results stream"): one stream field
/// per result field, times as integer microseconds since the Unix epoch, numbers in decimal,
/// phases and details as JSON object texts. Flat fields keep the ingester free of a JSON parse
/// per result.
extension CheckResult {
    public enum StreamField {
        public static let monitor = "monitor"
        public static let scheduled = "scheduled"
        public static let location = "location"
        public static let status = "status"
        public static let slot = "slot_ms"
        public static let started = "started"
        public static let finished = "finished"
        public static let latency = "latency_ms"
        public static let message = "message"
        public static let phases = "phases"
        public static let details = "details"
        public static let supervisor = "supervisor"
        public static let job = "job"
        public static let manual = "manual"
    }

    /// Longest accepted message, in bytes; longer ones are cut (at a character boundary).
    public static let maximumMessageBytes = 1024
    /// Longest accepted `phases` or `details`, in bytes.
    public static let maximumDetailsBytes = 65_536

    /// The stream fields, in a stable order.
    public var streamFields: [(String, String)] {
        var fields: [(String, String)] = [
            (StreamField.monitor, String(monitorID)),
            (StreamField.scheduled, String(scheduledAt.unixMicroseconds)),
            (StreamField.location, location),
            (StreamField.status, status.rawValue),
            (StreamField.slot, String(slotMilliseconds)),
            (StreamField.message, message),
            (StreamField.phases, phases),
            (StreamField.details, details),
        ]
        if let startedAt { fields.append((StreamField.started, String(startedAt.unixMicroseconds))) }
        if let finishedAt { fields.append((StreamField.finished, String(finishedAt.unixMicroseconds))) }
        if let latencyMilliseconds { fields.append((StreamField.latency, String(latencyMilliseconds))) }
        if let supervisor { fields.append((StreamField.supervisor, supervisor)) }
        if let job { fields.append((StreamField.job, job)) }
        if manual { fields.append((StreamField.manual, "1")) }
        return fields
    }

    /// Decodes and validates a stream entry's fields; the error names the first bad field.
    public init(streamFields fields: [String: [UInt8]]) throws(CheckResultError) {
        func required(_ name: String) throws(CheckResultError) -> [UInt8] {
            guard let value = fields[name] else { throw CheckResultError(field: name, reason: "is missing") }
            return value
        }
        func text(_ name: String, _ bytes: [UInt8]) throws(CheckResultError) -> String {
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw CheckResultError(field: name, reason: "is not valid UTF-8")
            }
            guard !bytes.contains(0) else { throw CheckResultError(field: name, reason: "contains a NUL byte") }
            return text
        }
        func integer(_ name: String, _ bytes: [UInt8]) throws(CheckResultError) -> Int64 {
            guard let value = Int64(String(decoding: bytes, as: UTF8.self)) else {
                throw CheckResultError(field: name, reason: "is not an integer")
            }
            return value
        }
        func time(_ name: String, _ bytes: [UInt8]) throws(CheckResultError) -> Date {
            let micros = try integer(name, bytes)
            // 2000-01-01 … 2200-01-01: anything else is a unit mistake, not a real time.
            guard micros > 946_684_800_000_000, micros < 7_258_118_400_000_000 else {
                throw CheckResultError(field: name, reason: "\(micros) is not a time in microseconds since 1970")
            }
            return Date(unixMicroseconds: micros)
        }
        func json(_ name: String) throws(CheckResultError) -> String {
            guard let bytes = fields[name] else { return "{}" }
            guard bytes.count <= Self.maximumDetailsBytes else {
                throw CheckResultError(field: name, reason: "is longer than \(Self.maximumDetailsBytes) bytes")
            }
            guard JSONSyntax.isObject(bytes) else { throw CheckResultError(field: name, reason: "is not a JSON object") }
            return String(decoding: bytes, as: UTF8.self)
        }

        monitorID = try integer(StreamField.monitor, try required(StreamField.monitor))
        guard monitorID > 0 else { throw CheckResultError(field: StreamField.monitor, reason: "must be positive") }
        scheduledAt = try time(StreamField.scheduled, try required(StreamField.scheduled))
        location = try text(StreamField.location, fields[StreamField.location] ?? Array("default".utf8))
        guard !location.isEmpty, location.utf8.count <= 64 else {
            throw CheckResultError(field: StreamField.location, reason: "must be 1 to 64 bytes")
        }
        let statusText = try text(StreamField.status, try required(StreamField.status))
        guard let status = CheckStatus(rawValue: statusText) else {
            throw CheckResultError(field: StreamField.status, reason: "\"\(statusText)\" is not one of \(CheckStatus.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.status = status
        let slot = try integer(StreamField.slot, try required(StreamField.slot))
        guard slot > 0, slot <= Int64(Int32.max) else {
            throw CheckResultError(field: StreamField.slot, reason: "must be a positive number of milliseconds")
        }
        slotMilliseconds = Int32(slot)
        startedAt = try fields[StreamField.started].map { bytes throws(CheckResultError) in try time(StreamField.started, bytes) }
        finishedAt = try fields[StreamField.finished].map { bytes throws(CheckResultError) in try time(StreamField.finished, bytes) }
        if let bytes = fields[StreamField.latency] {
            guard let value = Double(String(decoding: bytes, as: UTF8.self)), value.isFinite, value >= 0 else {
                throw CheckResultError(field: StreamField.latency, reason: "must be a non-negative number")
            }
            latencyMilliseconds = value
        } else {
            latencyMilliseconds = nil
        }
        var message = try text(StreamField.message, fields[StreamField.message] ?? [])
        if message.utf8.count > Self.maximumMessageBytes {
            var cut = message.utf8.prefix(Self.maximumMessageBytes)
            while String(validating: cut, as: UTF8.self) == nil { cut = cut.dropLast() }
            message = String(decoding: cut, as: UTF8.self)
        }
        self.message = message
        phases = try json(StreamField.phases)
        details = try json(StreamField.details)
        supervisor = try fields[StreamField.supervisor].map { bytes throws(CheckResultError) in try text(StreamField.supervisor, bytes) }
        job = try fields[StreamField.job].map { bytes throws(CheckResultError) in try text(StreamField.job, bytes) }
        if let job, job.isEmpty || job.utf8.count > 200 {
            throw CheckResultError(field: StreamField.job, reason: "must be 1 to 200 bytes")
        }
        switch fields[StreamField.manual].map({ String(decoding: $0, as: UTF8.self) }) {
        case nil, "0": manual = false
        case "1": manual = true
        case let other?: throw CheckResultError(field: StreamField.manual, reason: "must be 0 or 1, not \"\(other)\"")
        }
    }
}

extension Date {
    /// Microseconds since 1970-01-01 UTC, rounded.
    public var unixMicroseconds: Int64 {
        Int64((timeIntervalSince1970 * 1_000_000).rounded())
    }

    public init(unixMicroseconds: Int64) {
        let parts = unixMicroseconds.quotientAndRemainder(dividingBy: 1_000_000)
        self.init(timeIntervalSince1970: Double(parts.quotient) + Double(parts.remainder) / 1_000_000)
    }
}
