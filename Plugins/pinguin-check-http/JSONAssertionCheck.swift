import PinguinWire

/// One `expect_json` assertion against the body: typed, so a missing path or a value of another
/// type is a failure that says so (json_path_missing, json_type_mismatch), never a silent 0.
enum JSONAssertionCheck {
    static func check(_ assertion: HTTPConfig.JSONAssertion, path: JSONPath, regex: Regex<AnyRegexOutput>?, in document: JSONValue) -> CurlFailure? {
        let actual: JSONValue
        switch path.evaluate(document) {
        case .failure(let reason):
            return CurlFailure(kind: "json_path_missing", message: "JSON path \(path.text) does not exist: \(reason)")
        case .success(let value):
            actual = value
        }
        let shown = show(actual)
        if let type = assertion.type, !has(actual, type: type) {
            return CurlFailure(kind: "json_type_mismatch", message: "JSON \(path.text) is \(JSONPath.article(actual)) (\(shown)), expected \(type == "integer" ? "an integer" : JSONPath.article(example(type)))")
        }
        guard let expected = assertion.value else { return nil }
        func mismatch(_ wanted: String) -> CurlFailure {
            CurlFailure(kind: "json_type_mismatch", message: "JSON \(path.text) is \(JSONPath.article(actual)) (\(shown)), so it cannot be compared with \(wanted)")
        }
        func failed(_ words: String) -> CurlFailure {
            CurlFailure(kind: "json_mismatch", message: "JSON \(path.text) is \(shown), expected \(words)")
        }
        let operation = assertion.operation
        switch operation {
        case .exists:
            return nil
        case .eq, .ne:
            guard sameType(actual, expected) else { return mismatch("\(JSONPath.article(expected)) (\(show(expected)))") }
            let equal = jsonEqual(actual, expected)
            if operation == .eq && !equal { return failed(show(expected)) }
            if operation == .ne && equal { return failed("anything but \(show(expected))") }
            return nil
        case .lt, .le, .gt, .ge:
            guard let number = actual.doubleValue else { return mismatch("the number \(show(expected))") }
            let bound = expected.doubleValue ?? 0
            let holds = switch operation {
            case .lt: number < bound
            case .le: number <= bound
            case .gt: number > bound
            default: number >= bound
            }
            let symbol = ["lt": "<", "le": "<=", "gt": ">", "ge": ">="][operation.rawValue]!
            return holds ? nil : failed("\(symbol) \(show(expected))")
        case .contains:
            if let text = actual.stringValue {
                guard let part = expected.stringValue else { return mismatch("\(JSONPath.article(expected)) (\(show(expected)))") }
                return text.contains(part) ? nil : failed("to contain \(show(expected))")
            }
            if let items = actual.arrayValue {
                return items.contains { jsonEqual($0, expected) } ? nil : failed("to contain the element \(show(expected))")
            }
            return mismatch("contains (a string or an array is needed)")
        case .matches:
            guard let text = actual.stringValue else { return mismatch("a regular expression") }
            guard let regex else { return nil }
            return (try? regex.firstMatch(in: text)) != nil ? nil : failed("to match /\(expected.stringValue ?? "")/")
        }
    }

    static func has(_ value: JSONValue, type: String) -> Bool {
        switch type {
        case "integer": if case .number(let text) = value { return Int64(text) != nil || (Double(text).map { $0 == $0.rounded() } ?? false) } else { return false }
        default: return value.typeName == type
        }
    }

    static func example(_ type: String) -> JSONValue {
        switch type {
        case "string": .string("")
        case "number": .number("0")
        case "boolean": .bool(false)
        case "array": .array([])
        case "object": .object(JSONObject())
        default: .null
        }
    }

    static func sameType(_ left: JSONValue, _ right: JSONValue) -> Bool { left.typeName == right.typeName }

    /// Equality of JSON values: numbers by value (1 equals 1.0), objects whatever their key order.
    static func jsonEqual(_ left: JSONValue, _ right: JSONValue) -> Bool {
        switch (left, right) {
        case (.number, .number): return left.doubleValue == right.doubleValue
        case (.array(let a), .array(let b)): return a.count == b.count && zip(a, b).allSatisfy { jsonEqual($0, $1) }
        case (.object(let a), .object(let b)):
            return Set(a.keys) == Set(b.keys) && a.keys.allSatisfy { key in jsonEqual(a[key]!, b[key]!) }
        default: return left == right
        }
    }

    static func show(_ value: JSONValue) -> String {
        let text = String(decoding: JSONWriter.bytes(value), as: UTF8.self)
        return text.count > 100 ? String(text.prefix(100)) + "…" : text
    }
}
