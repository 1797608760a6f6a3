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
        if let date = fractional.date(from: text) { return preciseFraction(text, base: date) }
        return ISO8601DateFormatter().date(from: text)
    }

    /// ISO8601DateFormatter keeps only milliseconds; put the microseconds back.
    private static func preciseFraction(_ text: String, base: Date) -> Date {
        guard let dot = text.firstIndex(of: ".") else { return base }
        let digits = text[text.index(after: dot)...].prefix { $0.isNumber }
        guard digits.count > 3, let micros = Int(digits.prefix(6).padding(toLength: 6, withPad: "0", startingAt: 0)) else { return base }
        let whole = (base.timeIntervalSince1970).rounded(.down)
        return Date(timeIntervalSince1970: whole + Double(micros) / 1_000_000)
    }

    public static func string(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970
        let whole = seconds.rounded(.down)
        var micros = Int(((seconds - whole) * 1_000_000).rounded())
        var base = Date(timeIntervalSince1970: whole)
        if micros == 1_000_000 { micros = 0; base = base.addingTimeInterval(1) }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        let text = formatter.string(from: base)
        return String(text.dropLast()) + "." + String(format: "%06d", micros) + "Z"
    }
}
