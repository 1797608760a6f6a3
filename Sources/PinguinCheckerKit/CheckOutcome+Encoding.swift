import PinguinWire

extension CheckOutcome {
    /// The `check.run` result (schemas/plugin/check-run-result.json). What the schema forbids is
    /// repaired rather than sent: a multi-line or overlong message, negative or non-finite timings,
    /// an `error_kind` that is not a plain word.
    func resultValue(measuredLatency: Double) -> JSONValue {
        var object = JSONObject()
        object.append("status", .string(status.rawValue))
        object.append("message", .string(Self.oneLine(message)))
        object.append("latency_ms", Self.milliseconds(latencyMilliseconds ?? measuredLatency))
        if !phases.isEmpty {
            var timings = JSONObject()
            for phase in phases where phase.milliseconds.isFinite { timings.append(phase.name, Self.milliseconds(phase.milliseconds)) }
            object.append("phases", .object(timings))
        }
        if details.count > 0 { object.append("details", .object(details)) }
        if !metrics.isEmpty { object.append("metrics", .array(metrics.map(\.jsonValue))) }
        if let errorKind, let word = Self.word(errorKind) { object.append("error_kind", .string(word)) }
        return .object(object)
    }

    static let maximumMessageCharacters = 1024

    static func oneLine(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        var count = 0
        for scalar in text.unicodeScalars {
            guard count < maximumMessageCharacters else { break }
            scalars.append(scalar == "\n" || scalar == "\r" ? " " : scalar)
            count += 1
        }
        return String(scalars)
    }

    static func milliseconds(_ value: Double) -> JSONValue {
        guard value.isFinite, value > 0 else { return .int(0) }
        // Microsecond precision is plenty and keeps the text short.
        return .double((value * 1000).rounded() / 1000)
    }

    /// `^[a-z][a-z0-9_]{0,62}$`: lowercased, other characters replaced by `_`; nil if nothing is left.
    static func word(_ text: String) -> String? {
        var bytes: [UInt8] = []
        for byte in text.lowercased().utf8.prefix(63) {
            bytes.append((0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte) ? byte : 0x5F)
        }
        guard let first = bytes.first else { return nil }
        if !(0x61...0x7A).contains(first) { bytes = Array(("e_" + String(decoding: bytes, as: UTF8.self)).utf8.prefix(63)) }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension CheckMetric {
    var jsonValue: JSONValue {
        var object = JSONObject()
        object.append("label", .string(label))
        object.append("value", value.map { $0.isFinite ? JSONValue.double($0) : .null } ?? .null)
        if let uom { object.append("uom", .string(uom)) }
        if let warn { object.append("warn", .string(warn)) }
        if let crit { object.append("crit", .string(crit)) }
        if let min, min.isFinite { object.append("min", .double(min)) }
        if let max, max.isFinite { object.append("max", .double(max)) }
        return .object(object)
    }
}
