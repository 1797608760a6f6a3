public import Foundation
public import PinguinWire
public import PinguinModel

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

    /// A number, fractions allowed.
    public mutating func number(_ name: String, in range: ClosedRange<Double>) throws(JSONRPCError) -> Double? {
        guard let value = take(name) else { return nil }
        guard case .number = value, let number = value.doubleValue, number.isFinite else {
            throw .invalidParams("\(name) must be a number, not \(value.typeName)", field: name)
        }
        guard range.contains(number) else { throw .invalidParams("\(name) must be from \(range.lowerBound) to \(range.upperBound), not \(number)", field: name) }
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

/// RFC 3339 times on the wire (defined in PinguinModel, shared with the ingester's events).
public typealias RFC3339 = PinguinModel.RFC3339
