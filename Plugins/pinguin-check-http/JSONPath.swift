import PinguinWire

/// A path into a JSON document: `$`, then `.name`, `[index]` or `["name"]` steps (`$.` may be left out).
struct JSONPath: Sendable {
    enum Step: Sendable { case member(String), index(Int) }

    let text: String
    let steps: [Step]

    init(_ text: String) throws(CheckErrorText) {
        self.text = text
        var characters = Substring(text)
        if characters.hasPrefix("$") { characters.removeFirst() } else if !characters.hasPrefix("[") { characters = "." + characters }
        var steps: [Step] = []
        while let first = characters.first {
            if first == "." {
                characters.removeFirst()
                let name = characters.prefix { $0 != "." && $0 != "[" }
                guard !name.isEmpty else { throw CheckErrorText("JSON path \(text): empty member name") }
                steps.append(.member(String(name)))
                characters = characters[name.endIndex...]
            } else if first == "[" {
                guard let close = characters.firstIndex(of: "]") else { throw CheckErrorText("JSON path \(text): [ without ]") }
                let inside = characters[characters.index(after: characters.startIndex)..<close]
                if let index = Int(inside), index >= 0 {
                    steps.append(.index(index))
                } else if inside.count >= 2, let quote = inside.first, quote == "\"" || quote == "'", inside.last == quote {
                    steps.append(.member(String(inside.dropFirst().dropLast())))
                } else {
                    throw CheckErrorText("JSON path \(text): [\(inside)] is neither an index nor a quoted name")
                }
                characters = characters[characters.index(after: close)...]
            } else {
                throw CheckErrorText("JSON path \(text): unexpected \(first)")
            }
        }
        self.steps = steps
    }

    /// The value at the path, or why there is none ("$.a has no member \"b\"").
    func evaluate(_ root: JSONValue) -> Result<JSONValue, CheckErrorText> {
        var current = root
        var walked = "$"
        for step in steps {
            switch step {
            case .member(let name):
                guard let object = current.objectValue else {
                    return .failure(CheckErrorText("\(walked) is \(Self.article(current)), so it has no member \"\(name)\""))
                }
                guard let next = object[name] else { return .failure(CheckErrorText("\(walked) has no member \"\(name)\"")) }
                current = next
                walked += Self.isPlain(name) ? ".\(name)" : "[\"\(name)\"]"
            case .index(let index):
                guard let array = current.arrayValue else {
                    return .failure(CheckErrorText("\(walked) is \(Self.article(current)), so it has no element [\(index)]"))
                }
                guard index < array.count else { return .failure(CheckErrorText("\(walked) has \(array.count) elements, so no element [\(index)]")) }
                current = array[index]
                walked += "[\(index)]"
            }
        }
        return .success(current)
    }

    static func isPlain(_ name: String) -> Bool {
        !name.isEmpty && name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }
    }

    static func article(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .array: "an array"
        case .object: "an object"
        default: "a \(value.typeName)"
        }
    }
}

/// A reason in words, for the few helpers that fail without a CheckError.
struct CheckErrorText: Error, Sendable, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
