public import Foundation
public import PinguinWire

/// Named parameters, read strictly: unknown names, wrong types and out-of-range values are
/// errors that name the parameter (`-32602`, `error.data.field`).
public struct NamedParams {
    private let members: JSONObject
    private var used: Set<String> = []

    public init(_ params: JSONRPCParams, method: String) throws(JSONRPCError) {
        switch params {
        case .none: members = JSONObject()
        case .object(let object): members = object
        case .array(let values):
            guard values.isEmpty else {
                throw .invalidParams("\(method) takes named parameters (an object), not positional ones")
            }
            members = JSONObject()
        }
    }

    private mutating func take(_ name: String) -> JSONValue? {
        used.insert(name)
        guard let value = members[name], value != .null else { return nil }
        return value
    }

    public mutating func string(_ name: String, maxLength: Int = 10_000) throws(JSONRPCError) -> String? {
        guard let value = take(name) else { return nil }
        guard case .string(let text) = value else { throw .invalidParams("\(name) must be a string, not \(value.typeName)", field: name) }
        guard text.count <= maxLength else { throw .invalidParams("\(name) is longer than \(maxLength) characters", field: name) }
        return text
    }

    public mutating func requiredString(_ name: String, maxLength: Int = 10_000) throws(JSONRPCError) -> String {
        guard let text = try string(name, maxLength: maxLength) else { throw .invalidParams("\(name) is required", field: name) }
        return text
    }

    public mutating func integer(_ name: String, in range: ClosedRange<Int64>) throws(JSONRPCError) -> Int64? {
        guard let value = take(name) else { return nil }
        guard case .number = value, let number = value.int64Value else {
            throw .invalidParams("\(name) must be an integer, not \(value.typeName == "number" ? "a fraction" : value.typeName)", field: name)
        }
        guard range.contains(number) else { throw .invalidParams("\(name) must be from \(range.lowerBound) to \(range.upperBound), not \(number)", field: name) }
        return number
    }

    public mutating func requiredInteger(_ name: String, in range: ClosedRange<Int64>) throws(JSONRPCError) -> Int64 {
        guard let number = try integer(name, in: range) else { throw .invalidParams("\(name) is required", field: name) }
        return number
    }

    public mutating func bool(_ name: String) throws(JSONRPCError) -> Bool? {
        guard let value = take(name) else { return nil }
        guard case .bool(let flag) = value else { throw .invalidParams("\(name) must be true or false, not \(value.typeName)", field: name) }
        return flag
    }

    public mutating func strings(_ name: String, maxCount: Int = 100) throws(JSONRPCError) -> [String]? {
        guard let value = take(name) else { return nil }
        guard case .array(let values) = value else { throw .invalidParams("\(name) must be an array of strings, not \(value.typeName)", field: name) }
        guard values.count <= maxCount else { throw .invalidParams("\(name) has more than \(maxCount) entries", field: name) }
        var texts: [String] = []
        for (index, element) in values.enumerated() {
            guard case .string(let text) = element else {
                throw .invalidParams("\(name)[\(index)] must be a string, not \(element.typeName)", field: "\(name)[\(index)]")
            }
            texts.append(text)
        }
        return texts
    }

    public mutating func object(_ name: String) throws(JSONRPCError) -> JSONObject? {
        guard let value = take(name) else { return nil }
        guard case .object(let object) = value else { throw .invalidParams("\(name) must be an object, not \(value.typeName)", field: name) }
        return object
    }

    /// An RFC 3339 time (`2026-11-22T03:00:00Z`, fractions and offsets allowed).
    public mutating func time(_ name: String) throws(JSONRPCError) -> Date? {
        guard let text = try string(name, maxLength: 64) else { return nil }
        guard let date = RFC3339.parse(text) else {
            throw .invalidParams("\(name) must be an RFC 3339 time such as 2026-11-22T03:00:00Z, not \"\(text)\"", field: name)
        }
        return date
    }

    public mutating func integers(_ name: String, maxCount: Int = 10_000) throws(JSONRPCError) -> [Int64]? {
        guard let value = take(name) else { return nil }
        guard case .array(let values) = value else { throw .invalidParams("\(name) must be an array of integers, not \(value.typeName)", field: name) }
        guard values.count <= maxCount else { throw .invalidParams("\(name) has more than \(maxCount) entries", field: name) }
        var numbers: [Int64] = []
        for (index, element) in values.enumerated() {
            guard let number = element.int64Value, number > 0 else {
                throw .invalidParams("\(name)[\(index)] must be a positive integer", field: "\(name)[\(index)]")
            }
            numbers.append(number)
        }
        return numbers
    }

    /// Fails on the first parameter that no accessor asked for.
    public func rejectUnknown() throws(JSONRPCError) {
        for key in members.keys where !used.contains(key) {
            throw .invalidParams("unknown parameter \(key)", field: key)
        }
    }
}

/// RFC 3339 times on the wire: parsed with or without fractional seconds, written in UTC with
/// microseconds (PostgreSQL's precision), so a time read back can be passed back exactly.
public enum RFC3339 {
    public static func parse(_ text: String) -> Date? {
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let date = fractional.date(from: text).map({ preciseFraction(text, base: $0) }) ?? ISO8601DateFormatter().date(from: text) else {
            return nil
        }
        // Foundation rolls impossible dates over (February 30 becomes March 2); refuse them.
        if text.hasSuffix("Z") || text.hasSuffix("z"), string(date).prefix(19) != text.prefix(19) { return nil }
        return date
    }

    /// ISO8601DateFormatter keeps only milliseconds; put the microseconds back.
    private static func preciseFraction(_ text: String, base: Date) -> Date {
        guard let dot = text.firstIndex(of: ".") else { return base }
        let digits = text[text.index(after: dot)...].prefix { $0.isNumber }
        guard digits.count > 3, let micros = Int(digits.prefix(6).padding(toLength: 6, withPad: "0", startingAt: 0)) else { return base }
        let whole = (base.timeIntervalSince1970).rounded(.down)
        return Date(timeIntervalSince1970: whole + Double(micros) / 1_000_000)
    }

    /// `2026-11-22T03:00:00.123456Z`. Plain arithmetic (days to civil date, after Howard
    /// Hinnant's algorithm): a formatter object per call cost a third of a millisecond.
    public static func string(_ date: Date) -> String {
        let totalMicros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        let (secondsPart, micros) = totalMicros.quotientAndRemainder(dividingBy: 1_000_000)
        var seconds = secondsPart
        var fraction = micros
        if fraction < 0 { fraction += 1_000_000; seconds -= 1 }
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 { secondOfDay += 86_400; days -= 1 }
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthPrime = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthPrime + 2) / 5 + 1
        let month = monthPrime < 10 ? monthPrime + 3 : monthPrime - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3_600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(fraction, 6))Z"
    }
}
