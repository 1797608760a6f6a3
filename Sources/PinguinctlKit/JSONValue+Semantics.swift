public import PinguinWire

extension JSONValue {
    /// Equal as data: numbers by value, objects regardless of member order.
    public func isSemanticallyEqual(to other: JSONValue) -> Bool {
        switch (self, other) {
        case (.number(let left), .number(let right)):
            if left == right { return true }
            if let a = Int64(left), let b = Int64(right) { return a == b }
            if let a = Double(left), let b = Double(right) { return a == b }
            return false
        case (.array(let left), .array(let right)):
            return left.count == right.count && zip(left, right).allSatisfy { $0.isSemanticallyEqual(to: $1) }
        case (.object(let left), .object(let right)):
            let leftKeys = Set(left.keys), rightKeys = Set(right.keys)
            guard leftKeys == rightKeys else { return false }
            return leftKeys.allSatisfy { key in left[key]!.isSemanticallyEqual(to: right[key]!) }
        default:
            return self == other
        }
    }

    /// Short text for tables and diffs: strings bare, everything else as compact JSON.
    public var displayText: String {
        switch self {
        case .string(let text): text
        case .null: "-"
        default: JSONWriter.string(self)
        }
    }
}

extension JSONObject {
    /// A copy without the members named in `keys`.
    public func removing(_ keys: Set<String>) -> JSONObject {
        var copy = JSONObject()
        for index in 0..<count where !keys.contains(self.keys[index]) {
            copy.append(self.keys[index], values[index])
        }
        return copy
    }

    /// A copy with `key` set to `value` (replacing it in place when present).
    public func setting(_ key: String, _ value: JSONValue) -> JSONObject {
        var copy = JSONObject()
        var replaced = false
        for index in 0..<count {
            if keys[index] == key {
                if !replaced { copy.append(key, value) }
                replaced = true
            } else {
                copy.append(keys[index], values[index])
            }
        }
        if !replaced { copy.append(key, value) }
        return copy
    }
}
