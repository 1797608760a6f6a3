/// A compiled JSON Schema (a draft 2020-12 subset) that checks values and explains, in plain
/// English and naming the field, everything that is wrong with them.
///
/// Supported: `type`, `enum`, `const`, `properties`, `required`, `additionalProperties`,
/// `patternProperties`, `propertyNames`, `minProperties`, `maxProperties`, `dependentRequired`,
/// `dependentSchemas`, `items`, `prefixItems`, `minItems`, `maxItems`, `uniqueItems`, `contains`,
/// `minContains`, `maxContains`, `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`,
/// `multipleOf`, `minLength`, `maxLength`, `pattern`, `format` (`uri`, `hostname`, `ipv4`, `ipv6`,
/// `date-time`, `date`, `time`, `uuid`, `regex`), `allOf`, `anyOf`, `oneOf`, `not`, `if`/`then`/`else`,
/// `$defs` and local `$ref`. Annotations and unknown keywords are ignored, as the spec says;
/// keywords whose silent omission would weaken a schema (`unevaluatedProperties`, `$dynamicRef`,
/// remote `$ref`…) are refused when the schema is compiled.
///
/// Numbers are compared exactly on their decimal text, so `9007199254740993` is more than
/// `9007199254740992` and `1.0` is an integer.
public struct JSONSchema: Sendable {
    /// The most violations ``validate(_:at:)`` reports.
    public static let maximumViolations = 50

    let nodes: [Node]
    /// Regular expression sources, referred to by index. `Regex` is not `Sendable`, so each
    /// validation compiles the ones it needs (they were all checked to compile in `init`).
    let patterns: [String]

    /// Compiles and checks a schema; a malformed one is an error naming its location in the schema.
    public init(_ schema: JSONValue) throws(JSONSchemaError) {
        var compiler = Compiler(root: schema)
        try compiler.compileAll()
        nodes = compiler.nodes
        patterns = compiler.patterns
    }

    /// All the ways `value` breaks the schema (at most ``maximumViolations``), with paths rooted at "".
    public func validate(_ value: JSONValue) -> [JSONSchemaViolation] {
        validate(value, at: "")
    }

    /// All the ways `value` breaks the schema (at most ``maximumViolations``), with paths rooted at
    /// `prefix`: with prefix `config`, a violation deep inside reads `config.steps[2].expect`.
    public func validate(_ value: JSONValue, at prefix: String) -> [JSONSchemaViolation] {
        var validator = Validator(schema: self)
        var collector = Collector(limit: Self.maximumViolations)
        validator.check(0, value, Location(path: prefix, label: nil, depth: 0), &collector)
        return collector.violations
    }

    /// Whether `value` satisfies the schema.
    public func isValid(_ value: JSONValue) -> Bool {
        var validator = Validator(schema: self)
        var collector = Collector(limit: 1)
        validator.check(0, value, Location(path: "", label: nil, depth: 0), &collector)
        return collector.violations.isEmpty
    }

    /// The value with the `default` of every missing property filled in, so that a stored config
    /// shows its effective values.
    ///
    /// Deliberately simple: for an object, each `properties` entry that is missing and whose schema
    /// (or that schema's `$ref` target) has a `default` gets that default; present members are
    /// visited recursively through `properties` and a schema-valued `additionalProperties`; array
    /// elements through `prefixItems` and `items`; `$ref` and `allOf` are followed. A missing object
    /// without a `default` of its own is not created, and `anyOf`, `oneOf`, `if`/`then`/`else` are not
    /// looked into (which branch applies is ambiguous). Defaults are not validated; apply this to a
    /// value that has passed ``validate(_:at:)``.
    public func applyingDefaults(to value: JSONValue) -> JSONValue {
        fillDefaults(0, value)
    }

    private func fillDefaults(_ index: Int, _ value: JSONValue) -> JSONValue {
        let node = nodes[index]
        var value = value
        if let ref = node.ref { value = fillDefaults(ref, value) }
        for member in node.allOf { value = fillDefaults(member, value) }
        switch value {
        case .object(let object):
            if node.properties.isEmpty && node.additionalProperties == nil { return value }
            var filled = JSONObject()
            for (key, member) in zip(object.keys, object.values) {
                if let property = node.properties.first(where: { $0.name == key }) {
                    filled.append(key, fillDefaults(property.node, member))
                } else if let additional = node.additionalProperties, !isPatternProperty(node, key) {
                    filled.append(key, fillDefaults(additional, member))
                } else {
                    filled.append(key, member)
                }
            }
            for property in node.properties where object[property.name] == nil {
                if let defaultValue = defaultValue(property.node) {
                    filled.append(property.name, fillDefaults(property.node, defaultValue))
                }
            }
            return .object(filled)
        case .array(let elements):
            if node.prefixItems.isEmpty && node.items == nil { return value }
            return .array(elements.enumerated().map { offset, element in
                if offset < node.prefixItems.count { return fillDefaults(node.prefixItems[offset], element) }
                if let items = node.items { return fillDefaults(items, element) }
                return element
            })
        default:
            return value
        }
    }

    private func isPatternProperty(_ node: Node, _ key: String) -> Bool {
        guard !node.patternProperties.isEmpty else { return false }
        var validator = Validator(schema: self)
        return node.patternProperties.contains { validator.matches($0.pattern, key) }
    }

    private func defaultValue(_ index: Int) -> JSONValue? {
        var index = index
        var seen: Set<Int> = []
        while seen.insert(index).inserted {
            if let value = nodes[index].defaultValue { return value }
            guard let ref = nodes[index].ref else { return nil }
            index = ref
        }
        return nil
    }
}

/// One way a value breaks a schema.
public struct JSONSchemaViolation: Sendable, Hashable, CustomStringConvertible {
    /// Where in the value, in dotted/bracket form rooted at the caller's prefix:
    /// `config.headers.Accept`, `config.steps[2].expect`, `config["odd key"]`.
    public var path: String
    /// The schema keyword that failed (`maximum`, `required`, `additionalProperties`…).
    public var keyword: String
    /// Where the keyword is in the schema, as a JSON Pointer fragment: `#/properties/timeout/maximum`.
    public var schemaPath: String
    /// A sentence for people: "config.timeout must be at most 60, not 120".
    public var message: String

    public init(path: String, keyword: String, schemaPath: String, message: String) {
        self.path = path
        self.keyword = keyword
        self.schemaPath = schemaPath
        self.message = message
    }

    public var description: String { message }
}

/// Why a schema cannot be used, and where in it.
public struct JSONSchemaError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        private init(_ name: String) { self.name = name }

        /// A keyword's value has the wrong type or is out of range.
        public static let invalidKeyword = Code("invalidKeyword")
        /// `type` names something that is not a JSON Schema type.
        public static let unknownType = Code("unknownType")
        /// A `pattern` or `patternProperties` key is not a regular expression.
        public static let invalidPattern = Code("invalidPattern")
        /// A `$ref` points at nothing in this schema.
        public static let unresolvedReference = Code("unresolvedReference")
        /// `$ref`s (or `allOf`…) lead back to the same schema without descending into the value.
        public static let referenceLoop = Code("referenceLoop")
        /// A keyword this validator does not implement and would otherwise silently skip.
        public static let unsupported = Code("unsupported")

        public var description: String { name }
    }

    public var code: Code
    /// The offending location in the schema, as a JSON Pointer fragment (`#/properties/timeout/maximum`).
    public var schemaPath: String
    public var reason: String

    public init(code: Code, schemaPath: String, reason: String) {
        self.code = code
        self.schemaPath = schemaPath
        self.reason = reason
    }

    public var description: String { "invalid JSON Schema at \(schemaPath): \(reason)" }
}

// MARK: - Compiled form

extension JSONSchema {
    enum TypeName: String, Sendable, CaseIterable {
        case null, boolean, object, array, number, string, integer

        func matches(_ value: JSONValue) -> Bool {
            switch (self, value) {
            case (.null, .null), (.boolean, .bool), (.object, .object), (.array, .array), (.number, .number), (.string, .string):
                true
            case (.integer, .number(let text)):
                ExactNumber(text)?.isInteger ?? false
            default:
                false
            }
        }

        var withArticle: String {
            switch self {
            case .null: "null"
            case .boolean: "a boolean"
            case .object: "an object"
            case .array: "an array"
            case .number: "a number"
            case .string: "a string"
            case .integer: "an integer"
            }
        }
    }

    enum Format: String, Sendable {
        case uri, hostname, ipv4, ipv6, dateTime = "date-time", date, time, uuid, regex

        var noun: String {
            switch self {
            case .uri: "an absolute URI with a scheme (such as https://example.com/)"
            case .hostname: "a valid hostname"
            case .ipv4: "an IPv4 address"
            case .ipv6: "an IPv6 address"
            case .dateTime: "an RFC 3339 date-time (such as 2025-01-31T12:00:00Z)"
            case .date: "an RFC 3339 date (such as 2025-01-31)"
            case .time: "an RFC 3339 time with an offset (such as 12:00:00Z)"
            case .uuid: "a UUID"
            case .regex: "a valid regular expression"
            }
        }
    }

    /// One compiled schema; subschemas are indices into ``JSONSchema/nodes``.
    struct Node: Sendable {
        var pointer: String
        /// Set for the boolean schemas `true` and `false`.
        var boolean: Bool?
        var types: [TypeName]?
        var enumValues: [JSONValue]?
        var constValue: JSONValue?
        var ref: Int?
        var defaultValue: JSONValue?

        var properties: [(name: String, node: Int)] = []
        var patternProperties: [(pattern: Int, node: Int)] = []
        var additionalProperties: Int?
        var propertyNames: Int?
        var required: [String] = []
        var minProperties: Int?
        var maxProperties: Int?
        var dependentRequired: [(name: String, required: [String])] = []
        var dependentSchemas: [(name: String, node: Int)] = []

        var prefixItems: [Int] = []
        var items: Int?
        var minItems: Int?
        var maxItems: Int?
        var uniqueItems = false
        var contains: Int?
        var minContains: Int?
        var maxContains: Int?

        var minimum: ExactNumber?
        var maximum: ExactNumber?
        var exclusiveMinimum: ExactNumber?
        var exclusiveMaximum: ExactNumber?
        var multipleOf: ExactNumber?

        var minLength: Int?
        var maxLength: Int?
        var pattern: Int?
        var format: Format?

        var allOf: [Int] = []
        var anyOf: [Int] = []
        var oneOf: [Int] = []
        var not: Int?
        var ifNode: Int?
        var thenNode: Int?
        var elseNode: Int?

        init(pointer: String) {
            self.pointer = pointer
        }

        /// Subschemas applied to the same value (not to a member or element): a loop through these never ends.
        var sameValueEdges: [Int] {
            var edges = allOf + anyOf + oneOf + dependentSchemas.map(\.node)
            for single in [ref, not, ifNode, thenNode, elseNode] {
                if let single { edges.append(single) }
            }
            return edges
        }
    }
}

// MARK: - Compiler

extension JSONSchema {
    struct Compiler {
        let root: JSONValue
        var nodes: [Node] = []
        var patterns: [String] = []
        private var patternIndex: [String: Int] = [:]
        private var memo: [String: Int] = [:]
        private var pendingRefs: [(node: Int, ref: String, pointer: String)] = []
        private let rootID: String?

        /// Keywords whose absence from this subset would silently accept what the author meant to refuse.
        private static let unsupported: [String: String] = [
            "$dynamicRef": "$dynamicRef is not supported; use $ref",
            "$recursiveRef": "$recursiveRef is not supported; use $ref",
            "unevaluatedProperties": "unevaluatedProperties is not supported; use additionalProperties",
            "unevaluatedItems": "unevaluatedItems is not supported; use items",
            "additionalItems": "additionalItems is not part of draft 2020-12; use prefixItems with items",
            "dependencies": "dependencies is not part of draft 2020-12; use dependentRequired or dependentSchemas",
        ]

        init(root: JSONValue) {
            self.root = root
            if let id = root.objectValue?["$id"]?.stringValue {
                rootID = String(id.prefix { $0 != "#" })
            } else {
                rootID = nil
            }
        }

        mutating func compileAll() throws(JSONSchemaError) {
            _ = try compile(root, pointer: "#")
            while let pending = pendingRefs.popLast() {
                nodes[pending.node].ref = try resolve(pending.ref, at: pending.pointer)
            }
            try checkLoops()
        }

        private func fail(_ code: JSONSchemaError.Code, _ pointer: String, _ reason: String) -> JSONSchemaError {
            JSONSchemaError(code: code, schemaPath: pointer, reason: reason)
        }

        private mutating func compile(_ value: JSONValue, pointer: String) throws(JSONSchemaError) -> Int {
            if let existing = memo[pointer] { return existing }
            let index = nodes.count
            nodes.append(Node(pointer: pointer))
            memo[pointer] = index
            var node = Node(pointer: pointer)
            switch value {
            case .bool(let flag):
                node.boolean = flag
            case .object(let object):
                try compileKeywords(object, into: &node, index: index)
            default:
                throw fail(.invalidKeyword, pointer, "a schema must be an object or a boolean, not \(Describe.kind(value))")
            }
            nodes[index] = node
            return index
        }

        private mutating func compileKeywords(_ object: JSONObject, into node: inout Node, index: Int) throws(JSONSchemaError) {
            let pointer = node.pointer
            func at(_ keyword: String) -> String { pointer + "/" + Pointer.escape(keyword) }

            for key in object.keys {
                if let reason = Self.unsupported[key] { throw fail(.unsupported, at(key), reason) }
            }

            if let type = object["type"] {
                let names: [JSONValue]
                switch type {
                case .string: names = [type]
                case .array(let values) where !values.isEmpty: names = values
                default: throw fail(.invalidKeyword, at("type"), "type must be a type name or a non-empty array of them")
                }
                var types: [TypeName] = []
                for (offset, name) in names.enumerated() {
                    let namePointer = type.arrayValue == nil ? at("type") : at("type") + "/\(offset)"
                    guard let text = name.stringValue else {
                        throw fail(.invalidKeyword, namePointer, "a type name must be a string, not \(Describe.kind(name))")
                    }
                    guard let typeName = TypeName(rawValue: text) else {
                        let known = TypeName.allCases.map(\.rawValue).joined(separator: ", ")
                        throw fail(.unknownType, namePointer, "unknown type \"\(text)\" (known: \(known))")
                    }
                    types.append(typeName)
                }
                node.types = types
            }
            if let values = object["enum"] {
                guard let array = values.arrayValue else {
                    throw fail(.invalidKeyword, at("enum"), "enum must be an array, not \(Describe.kind(values))")
                }
                node.enumValues = array
            }
            node.constValue = object["const"]
            node.defaultValue = object["default"]

            if let ref = object["$ref"] {
                guard let text = ref.stringValue else {
                    throw fail(.invalidKeyword, at("$ref"), "$ref must be a string, not \(Describe.kind(ref))")
                }
                pendingRefs.append((index, text, at("$ref")))
            }

            // Objects.
            node.properties = try schemaMap(object, "properties", at: at("properties"))
            if let patterns = object["patternProperties"] {
                guard let map = patterns.objectValue else {
                    throw fail(.invalidKeyword, at("patternProperties"), "patternProperties must be an object, not \(Describe.kind(patterns))")
                }
                for (key, value) in Self.uniqueMembers(map) {
                    let memberPointer = at("patternProperties") + "/" + Pointer.escape(key)
                    let pattern = try regex(key, at: memberPointer)
                    node.patternProperties.append((pattern, try compile(value, pointer: memberPointer)))
                }
            }
            node.additionalProperties = try schema(object, "additionalProperties", at: at("additionalProperties"))
            node.propertyNames = try schema(object, "propertyNames", at: at("propertyNames"))
            if let required = object["required"] {
                node.required = try strings(required, at: at("required"), keyword: "required")
            }
            node.minProperties = try count(object, "minProperties", at: at("minProperties"))
            node.maxProperties = try count(object, "maxProperties", at: at("maxProperties"))
            if let dependent = object["dependentRequired"] {
                guard let map = dependent.objectValue else {
                    throw fail(.invalidKeyword, at("dependentRequired"), "dependentRequired must be an object, not \(Describe.kind(dependent))")
                }
                for (key, value) in Self.uniqueMembers(map) {
                    let names = try strings(value, at: at("dependentRequired") + "/" + Pointer.escape(key), keyword: "dependentRequired")
                    node.dependentRequired.append((key, names))
                }
            }
            node.dependentSchemas = try schemaMap(object, "dependentSchemas", at: at("dependentSchemas"))

            // Arrays.
            if let items = object["items"], items.arrayValue != nil {
                throw fail(.invalidKeyword, at("items"), "items must be a schema in draft 2020-12; use prefixItems for a list of schemas")
            }
            node.items = try schema(object, "items", at: at("items"))
            node.prefixItems = try schemaList(object, "prefixItems", at: at("prefixItems"))
            node.minItems = try count(object, "minItems", at: at("minItems"))
            node.maxItems = try count(object, "maxItems", at: at("maxItems"))
            if let unique = object["uniqueItems"] {
                guard let flag = unique.boolValue else {
                    throw fail(.invalidKeyword, at("uniqueItems"), "uniqueItems must be true or false, not \(Describe.kind(unique))")
                }
                node.uniqueItems = flag
            }
            node.contains = try schema(object, "contains", at: at("contains"))
            node.minContains = try count(object, "minContains", at: at("minContains"))
            node.maxContains = try count(object, "maxContains", at: at("maxContains"))

            // Numbers.
            node.minimum = try number(object, "minimum", at: at("minimum"))
            node.maximum = try number(object, "maximum", at: at("maximum"))
            node.exclusiveMinimum = try number(object, "exclusiveMinimum", at: at("exclusiveMinimum"))
            node.exclusiveMaximum = try number(object, "exclusiveMaximum", at: at("exclusiveMaximum"))
            node.multipleOf = try number(object, "multipleOf", at: at("multipleOf"))
            if let divisor = node.multipleOf, divisor.sign <= 0 {
                throw fail(.invalidKeyword, at("multipleOf"), "multipleOf must be greater than 0, not \(divisor.text)")
            }

            // Strings.
            node.minLength = try count(object, "minLength", at: at("minLength"))
            node.maxLength = try count(object, "maxLength", at: at("maxLength"))
            if let pattern = object["pattern"] {
                guard let text = pattern.stringValue else {
                    throw fail(.invalidKeyword, at("pattern"), "pattern must be a string, not \(Describe.kind(pattern))")
                }
                node.pattern = try regex(text, at: at("pattern"))
            }
            if let format = object["format"] {
                guard let text = format.stringValue else {
                    throw fail(.invalidKeyword, at("format"), "format must be a string, not \(Describe.kind(format))")
                }
                node.format = Format(rawValue: text)  // unknown formats are annotations
            }

            // Composition.
            node.allOf = try schemaList(object, "allOf", at: at("allOf"))
            node.anyOf = try schemaList(object, "anyOf", at: at("anyOf"))
            node.oneOf = try schemaList(object, "oneOf", at: at("oneOf"))
            node.not = try schema(object, "not", at: at("not"))
            node.ifNode = try schema(object, "if", at: at("if"))
            node.thenNode = try schema(object, "then", at: at("then"))
            node.elseNode = try schema(object, "else", at: at("else"))

            // Definitions are compiled even when unused, so that a broken one is reported now.
            for keyword in ["$defs", "definitions"] {
                _ = try schemaMap(object, keyword, at: at(keyword))
            }
        }

        /// Members in order, the last of duplicated names winning, as lookups do.
        static func uniqueMembers(_ object: JSONObject) -> [(String, JSONValue)] {
            var seen: Set<String> = []
            var members: [(String, JSONValue)] = []
            for (key, value) in zip(object.keys, object.values).reversed() where seen.insert(key).inserted {
                members.append((key, value))
            }
            return members.reversed()
        }

        private mutating func schema(_ object: JSONObject, _ keyword: String, at pointer: String) throws(JSONSchemaError) -> Int? {
            guard let value = object[keyword] else { return nil }
            return try compile(value, pointer: pointer)
        }

        private mutating func schemaMap(_ object: JSONObject, _ keyword: String, at pointer: String) throws(JSONSchemaError) -> [(name: String, node: Int)] {
            guard let value = object[keyword] else { return [] }
            guard let map = value.objectValue else {
                throw fail(.invalidKeyword, pointer, "\(keyword) must be an object, not \(Describe.kind(value))")
            }
            var result: [(name: String, node: Int)] = []
            for (key, member) in Self.uniqueMembers(map) {
                result.append((key, try compile(member, pointer: pointer + "/" + Pointer.escape(key))))
            }
            return result
        }

        private mutating func schemaList(_ object: JSONObject, _ keyword: String, at pointer: String) throws(JSONSchemaError) -> [Int] {
            guard let value = object[keyword] else { return [] }
            guard let array = value.arrayValue, !array.isEmpty else {
                throw fail(.invalidKeyword, pointer, "\(keyword) must be a non-empty array of schemas, not \(Describe.kind(value))")
            }
            var result: [Int] = []
            for (offset, member) in array.enumerated() {
                result.append(try compile(member, pointer: pointer + "/\(offset)"))
            }
            return result
        }

        private func count(_ object: JSONObject, _ keyword: String, at pointer: String) throws(JSONSchemaError) -> Int? {
            guard let value = object[keyword] else { return nil }
            guard case .number(let text) = value, let number = ExactNumber(text), number.isInteger, number.sign >= 0 else {
                throw fail(.invalidKeyword, pointer, "\(keyword) must be a non-negative integer, not \(Describe.value(value))")
            }
            return number.clampedInt
        }

        private func number(_ object: JSONObject, _ keyword: String, at pointer: String) throws(JSONSchemaError) -> ExactNumber? {
            guard let value = object[keyword] else { return nil }
            guard case .number(let text) = value, let number = ExactNumber(text) else {
                throw fail(.invalidKeyword, pointer, "\(keyword) must be a number, not \(Describe.kind(value))")
            }
            return number
        }

        private func strings(_ value: JSONValue, at pointer: String, keyword: String) throws(JSONSchemaError) -> [String] {
            guard let array = value.arrayValue else {
                throw fail(.invalidKeyword, pointer, "\(keyword) must be an array of strings, not \(Describe.kind(value))")
            }
            var names: [String] = []
            for (offset, element) in array.enumerated() {
                guard let name = element.stringValue else {
                    throw fail(.invalidKeyword, pointer + "/\(offset)", "\(keyword) must list strings, not \(Describe.kind(element))")
                }
                names.append(name)
            }
            return names
        }

        private mutating func regex(_ source: String, at pointer: String) throws(JSONSchemaError) -> Int {
            if let existing = patternIndex[source] { return existing }
            do {
                _ = try Regex(source)
            } catch {
                throw fail(.invalidPattern, pointer, "\"\(source)\" is not a valid regular expression: \(error)")
            }
            patterns.append(source)
            patternIndex[source] = patterns.count - 1
            return patterns.count - 1
        }

        private mutating func resolve(_ ref: String, at pointer: String) throws(JSONSchemaError) -> Int {
            guard let hash = ref.firstIndex(of: "#") else {
                throw fail(.unsupported, pointer, "only local references (\"#/$defs/name\") are supported, not \"\(ref)\"")
            }
            let base = String(ref[..<hash])
            guard base.isEmpty || base == rootID else {
                throw fail(.unsupported, pointer, "only local references (\"#/$defs/name\") are supported, not \"\(ref)\"")
            }
            let fragment = String(ref[ref.index(after: hash)...])
            guard fragment.isEmpty || fragment.hasPrefix("/") else {
                throw fail(.unsupported, pointer, "anchor references such as \"\(ref)\" are not supported; use a JSON pointer like \"#/$defs/name\"")
            }
            guard let decoded = Pointer.percentDecode(fragment) else {
                throw fail(.unresolvedReference, pointer, "\"\(ref)\" is not a valid JSON pointer")
            }
            var target = root
            var canonical = "#"
            if !decoded.isEmpty {
                for rawToken in decoded.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
                    let token = Pointer.unescape(String(rawToken))
                    switch target {
                    case .object(let object) where object[token] != nil:
                        target = object[token]!
                    case .array(let array) where Int(token).map({ array.indices.contains($0) }) ?? false:
                        target = array[Int(token)!]
                    default:
                        throw fail(.unresolvedReference, pointer, "\"\(ref)\" points at nothing in this schema")
                    }
                    canonical += "/" + Pointer.escape(token)
                }
            }
            return try compile(target, pointer: canonical)
        }

        private func checkLoops() throws(JSONSchemaError) {
            // 0: unvisited, 1: on the current path, 2: done.
            var state = [UInt8](repeating: 0, count: nodes.count)
            func visit(_ index: Int) throws(JSONSchemaError) {
                state[index] = 1
                for next in nodes[index].sameValueEdges {
                    if state[next] == 1 {
                        throw fail(
                            .referenceLoop, nodes[index].pointer,
                            "leads back to \(nodes[next].pointer) without descending into the value, so checking would never end")
                    }
                    if state[next] == 0 { try visit(next) }
                }
                state[index] = 2
            }
            for index in nodes.indices where state[index] == 0 { try visit(index) }
        }
    }
}

// MARK: - Validator

extension JSONSchema {
    /// Where a value sits: its path and, for property names, the words to use instead.
    struct Location {
        var path: String
        var label: String?
        var depth: Int

        var subject: String { label ?? (path.isEmpty ? "the value" : path) }

        func member(_ key: String) -> Location {
            let simple = !key.isEmpty && key.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                    UInt8(ascii: "_"), UInt8(ascii: "-"):
                    true
                default:
                    false
                }
            }
            let step = simple ? (path.isEmpty ? key : "." + key) : "[" + JSONWriter.string(.string(key)) + "]"
            return Location(path: path + step, label: nil, depth: depth + 1)
        }

        func element(_ offset: Int) -> Location {
            Location(path: path + "[\(offset)]", label: nil, depth: depth + 1)
        }
    }

    struct Collector {
        var violations: [JSONSchemaViolation] = []
        /// Depth of each violation's value, parallel to `violations`, to judge which alternative was meant.
        var depths: [Int] = []
        /// For a violation saying the value is of the wrong type, the types that were expected
        /// ("a string", "null"), so that alternatives that all want other types can be merged.
        var expectedTypes: [[String]?] = []
        let limit: Int

        init(limit: Int) {
            self.limit = limit
        }

        var isFull: Bool { violations.count >= limit }

        mutating func add(_ location: Location, _ keyword: String, _ node: Node, _ message: String, expectedTypes: [String]? = nil) {
            guard !isFull else { return }
            let schemaPath = keyword == "false" ? node.pointer : node.pointer + "/" + Pointer.escape(keyword)
            violations.append(JSONSchemaViolation(path: location.path, keyword: keyword, schemaPath: schemaPath, message: message))
            depths.append(location.depth)
            self.expectedTypes.append(expectedTypes)
        }

        mutating func append(contentsOf other: Collector) {
            for offset in other.violations.indices where !isFull {
                violations.append(other.violations[offset])
                depths.append(other.depths[offset])
                expectedTypes.append(other.expectedTypes[offset])
            }
        }

        /// The types expected by a wrong-type violation of the value at `depth` itself, if there is one.
        func wrongType(at depth: Int) -> [String]? {
            violations.indices.first { depths[$0] == depth && expectedTypes[$0] != nil }.flatMap { expectedTypes[$0] }
        }
    }

    struct Validator {
        let schema: JSONSchema
        private var regexes: [Int: Regex<AnyRegexOutput>] = [:]

        init(schema: JSONSchema) {
            self.schema = schema
        }

        /// Unanchored search, by Unicode scalar as ECMA-262 does rather than by grapheme.
        mutating func matches(_ pattern: Int, _ text: String) -> Bool {
            if regexes[pattern] == nil {
                regexes[pattern] = (try? Regex(schema.patterns[pattern]))?.matchingSemantics(.unicodeScalar)
            }
            guard let regex = regexes[pattern] else { return false }
            return (try? regex.firstMatch(in: text)) != nil
        }

        private mutating func passes(_ index: Int, _ value: JSONValue, _ location: Location) -> Bool {
            var scratch = Collector(limit: 1)
            check(index, value, location, &scratch)
            return scratch.violations.isEmpty
        }

        mutating func check(_ index: Int, _ value: JSONValue, _ location: Location, _ out: inout Collector) {
            guard !out.isFull else { return }
            let node = schema.nodes[index]
            let subject = location.subject
            if let flag = node.boolean {
                if !flag { out.add(location, "false", node, "\(subject) is not allowed") }
                return
            }
            if let ref = node.ref { check(ref, value, location, &out) }

            var typeMatches = true
            if let types = node.types, !types.contains(where: { $0.matches(value) }) {
                typeMatches = false
                let expected = types.map(\.withArticle)
                out.add(location, "type", node, Self.wrongType(subject, expected, value), expectedTypes: expected)
            }
            if typeMatches, let constValue = node.constValue, !Equality.equal(value, constValue) {
                out.add(location, "const", node, "\(subject) must be \(Describe.value(constValue)), not \(Describe.value(value))")
            }
            if typeMatches, let options = node.enumValues, !options.contains(where: { Equality.equal(value, $0) }) {
                let list = options.count == 1 ? Describe.option(options[0]) : "one of " + options.map(Describe.option).joined(separator: ", ")
                out.add(location, "enum", node, "\(subject) must be \(list), not \(Describe.value(value))")
            }

            switch value {
            case .number(let text):
                if let number = ExactNumber(text) { checkNumber(number, node, location, &out) }
            case .string(let text):
                checkString(text, node, location, &out)
            case .array(let elements):
                checkArray(elements, node, location, &out)
            case .object(let object):
                checkObject(object, node, location, &out)
            case .null, .bool:
                break
            }

            for member in node.allOf { check(member, value, location, &out) }
            if !node.anyOf.isEmpty { checkAnyOf(node, value, location, &out) }
            if !node.oneOf.isEmpty { checkOneOf(node, value, location, &out) }
            if let not = node.not, passes(not, value, location) {
                out.add(location, "not", node, "\(subject) must not match the schema under \"not\", but \(Describe.value(value)) does")
            }
            if let condition = node.ifNode {
                if passes(condition, value, location) {
                    if let then = node.thenNode { check(then, value, location, &out) }
                } else if let otherwise = node.elseNode {
                    check(otherwise, value, location, &out)
                }
            }
        }

        private func checkNumber(_ number: ExactNumber, _ node: Node, _ location: Location, _ out: inout Collector) {
            let subject = location.subject
            if let bound = node.minimum, number < bound {
                out.add(location, "minimum", node, "\(subject) must be at least \(bound.text), not \(number.text)")
            }
            if let bound = node.maximum, number > bound {
                out.add(location, "maximum", node, "\(subject) must be at most \(bound.text), not \(number.text)")
            }
            if let bound = node.exclusiveMinimum, number <= bound {
                out.add(location, "exclusiveMinimum", node, "\(subject) must be greater than \(bound.text), not \(number.text)")
            }
            if let bound = node.exclusiveMaximum, number >= bound {
                out.add(location, "exclusiveMaximum", node, "\(subject) must be less than \(bound.text), not \(number.text)")
            }
            if let divisor = node.multipleOf, !number.isMultiple(of: divisor) {
                out.add(location, "multipleOf", node, "\(subject) must be a multiple of \(divisor.text), not \(number.text)")
            }
        }

        private mutating func checkString(_ text: String, _ node: Node, _ location: Location, _ out: inout Collector) {
            let subject = location.subject
            if node.minLength != nil || node.maxLength != nil {
                let length = text.unicodeScalars.count
                if let minimum = node.minLength, length < minimum {
                    out.add(location, "minLength", node, "\(subject) must be at least \(Describe.count(minimum, "character")) long, not \(length)")
                }
                if let maximum = node.maxLength, length > maximum {
                    out.add(location, "maxLength", node, "\(subject) must be at most \(Describe.count(maximum, "character")) long, not \(length)")
                }
            }
            if let pattern = node.pattern, !matches(pattern, text) {
                out.add(location, "pattern", node, "\(subject) must match the pattern \(schema.patterns[pattern]), not \(Describe.value(.string(text)))")
            }
            if let format = node.format, !Formats.check(format, text) {
                out.add(location, "format", node, "\(subject) must be \(format.noun), not \(Describe.value(.string(text)))")
            }
        }

        private mutating func checkArray(_ elements: [JSONValue], _ node: Node, _ location: Location, _ out: inout Collector) {
            let subject = location.subject
            if let minimum = node.minItems, elements.count < minimum {
                out.add(location, "minItems", node, "\(subject) must have at least \(Describe.count(minimum, "item")), not \(elements.count)")
            }
            if let maximum = node.maxItems, elements.count > maximum {
                out.add(location, "maxItems", node, "\(subject) must have at most \(Describe.count(maximum, "item")), not \(elements.count)")
            }
            if node.uniqueItems, let (first, second) = Equality.firstDuplicate(elements) {
                out.add(location, "uniqueItems", node, "\(subject) must not contain duplicates, but items \(first) and \(second) are equal")
            }
            for (offset, index) in node.prefixItems.enumerated() where offset < elements.count {
                check(index, elements[offset], location.element(offset), &out)
            }
            if let items = node.items, elements.count > node.prefixItems.count {
                if schema.nodes[items].boolean == false {
                    out.add(location, "items", node, "\(subject) must have at most \(Describe.count(node.prefixItems.count, "item")), not \(elements.count)")
                } else {
                    for offset in node.prefixItems.count..<elements.count {
                        check(items, elements[offset], location.element(offset), &out)
                    }
                }
            }
            if let contains = node.contains {
                var found = 0
                for (offset, element) in elements.enumerated() where passes(contains, element, location.element(offset)) { found += 1 }
                let minimum = node.minContains ?? 1
                if found < minimum {
                    out.add(
                        location, "contains", node,
                        "\(subject) must contain at least \(Describe.count(minimum, "item")) matching the schema under \"contains\", but has \(found)")
                }
                if let maximum = node.maxContains, found > maximum {
                    out.add(
                        location, "maxContains", node,
                        "\(subject) must contain at most \(Describe.count(maximum, "item")) matching the schema under \"contains\", but has \(found)")
                }
            }
        }

        private mutating func checkObject(_ object: JSONObject, _ node: Node, _ location: Location, _ out: inout Collector) {
            let subject = location.subject
            let members = Compiler.uniqueMembers(object)
            for name in node.required where object[name] == nil {
                out.add(location.member(name), "required", node, "\(location.member(name).subject) is required")
            }
            if let minimum = node.minProperties, members.count < minimum {
                out.add(location, "minProperties", node, "\(subject) must have at least \(Describe.count(minimum, "field")), not \(members.count)")
            }
            if let maximum = node.maxProperties, members.count > maximum {
                out.add(location, "maxProperties", node, "\(subject) must have at most \(Describe.count(maximum, "field")), not \(members.count)")
            }
            for dependency in node.dependentRequired where object[dependency.name] != nil {
                for name in dependency.required where object[name] == nil {
                    let missing = location.member(name)
                    out.add(missing, "dependentRequired", node, "\(missing.subject) is required when \(location.member(dependency.name).subject) is present")
                }
            }
            for dependency in node.dependentSchemas where object[dependency.name] != nil {
                check(dependency.node, .object(object), location, &out)
            }
            for (key, value) in members {
                let child = location.member(key)
                if let propertyNames = node.propertyNames {
                    let nameLocation = Location(path: child.path, label: "the field name \(Describe.value(.string(key))) in \(subject)", depth: child.depth)
                    check(propertyNames, .string(key), nameLocation, &out)
                }
                var evaluated = false
                if let property = node.properties.first(where: { $0.name == key }) {
                    evaluated = true
                    check(property.node, value, child, &out)
                }
                for pattern in node.patternProperties where matches(pattern.pattern, key) {
                    evaluated = true
                    check(pattern.node, value, child, &out)
                }
                guard !evaluated, let additional = node.additionalProperties else { continue }
                if schema.nodes[additional].boolean == false {
                    out.add(child, "additionalProperties", node, noSuchField(key, in: node, subject: subject))
                } else {
                    check(additional, value, child, &out)
                }
            }
        }

        private func noSuchField(_ key: String, in node: Node, subject: String) -> String {
            let names = node.properties.map(\.name)
            var allowed = names.prefix(12).joined(separator: ", ")
            if names.count > 12 { allowed += ", …" }
            let patterns = node.patternProperties.map { schema.patterns[$0.pattern] }
            if !patterns.isEmpty {
                allowed += (allowed.isEmpty ? "" : ", ") + "names matching " + patterns.joined(separator: " or ")
            }
            var hint = ""
            if let suggestion = Describe.closest(to: key, among: names) { hint = "did you mean \"\(suggestion)\"? " }
            let list = allowed.isEmpty ? "no fields are allowed" : "allowed: " + allowed
            return "\(subject) has no field \(Describe.value(.string(key))) (\(hint)\(list))"
        }

        /// Violations of each alternative, and those that look like the one the author meant: an
        /// alternative whose `type`, or whose `const`/`enum` on the value or a direct member (a
        /// discriminator such as `"kind": {"const": "basic"}`), failed was probably not meant.
        private mutating func alternatives(_ members: [Int], _ value: JSONValue, _ location: Location) -> (results: [Collector], meant: [Int]) {
            var results: [Collector] = []
            for member in members {
                var scratch = Collector(limit: JSONSchema.maximumViolations)
                check(member, value, location, &scratch)
                results.append(scratch)
            }
            let meant = results.indices.filter { offset in
                let result = results[offset]
                return result.wrongType(at: location.depth) == nil
                    && !zip(result.violations, result.depths).contains { violation, depth in
                        (violation.keyword == "const" || violation.keyword == "enum") && depth <= location.depth + 1
                    }
            }
            return (results, meant)
        }

        static func wrongType(_ subject: String, _ expected: [String], _ value: JSONValue) -> String {
            let actual: String
            if expected.contains("an integer"), case .number(let text) = value { actual = text } else { actual = Describe.kind(value) }
            return "\(subject) must be \(Describe.list(expected, conjunction: "or")), not \(actual)"
        }

        private func reportNoAlternative(
            _ keyword: String, _ results: [Collector], _ meant: [Int], _ node: Node, _ value: JSONValue, _ location: Location,
            _ out: inout Collector
        ) {
            if meant.count == 1 {
                out.append(contentsOf: results[meant[0]])
                return
            }
            let wanted = results.map { $0.wrongType(at: location.depth) }
            if meant.isEmpty, wanted.allSatisfy({ $0 != nil }) {
                // Every alternative wants another type: say which types, in one sentence.
                var expected: [String] = []
                for type in wanted.flatMap({ $0! }) where !expected.contains(type) { expected.append(type) }
                out.add(location, keyword, node, Self.wrongType(location.subject, expected, value), expectedTypes: expected)
                return
            }
            let candidates = meant.isEmpty ? Array(results.indices) : meant
            let reasons = candidates.compactMap { offset in
                results[offset].violations.first.map { "\($0.message) (alternative \(offset + 1))" }
            }
            out.add(location, keyword, node, "\(location.subject) must match one of the alternatives: " + reasons.joined(separator: "; or "))
        }

        private mutating func checkAnyOf(_ node: Node, _ value: JSONValue, _ location: Location, _ out: inout Collector) {
            let (results, meant) = alternatives(node.anyOf, value, location)
            if results.contains(where: { $0.violations.isEmpty }) { return }
            reportNoAlternative("anyOf", results, meant, node, value, location, &out)
        }

        private mutating func checkOneOf(_ node: Node, _ value: JSONValue, _ location: Location, _ out: inout Collector) {
            let (results, meant) = alternatives(node.oneOf, value, location)
            let matching = results.indices.filter { results[$0].violations.isEmpty }
            if matching.count == 1 { return }
            if matching.count > 1 {
                let which = Describe.list(matching.map { String($0 + 1) }, conjunction: "and")
                out.add(location, "oneOf", node, "\(location.subject) matches alternatives \(which), but must match exactly one")
                return
            }
            reportNoAlternative("oneOf", results, meant, node, value, location, &out)
        }
    }
}

// MARK: - Numbers, equality, words

/// A JSON number as an exact decimal: `digits` × 10^`exponent`, with neither leading nor trailing
/// zeros in `digits` (empty for zero), so that equal values have equal representations.
struct ExactNumber: Sendable, Comparable {
    /// The number as written, for messages.
    let text: String
    let negative: Bool
    let digits: [UInt8]
    let exponent: Int

    /// Exponents beyond this are clamped; no JSON text in memory gets near it.
    private static let exponentLimit = 1 << 40

    init?(_ text: String) {
        self.text = text
        var bytes = Array(text.utf8)[...]
        let negative = bytes.first == UInt8(ascii: "-")
        if negative { bytes = bytes.dropFirst() }
        func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
        let integerPart = bytes.prefix(while: isDigit)
        guard !integerPart.isEmpty else { return nil }
        bytes = bytes.dropFirst(integerPart.count)
        var fraction: ArraySlice<UInt8> = []
        if bytes.first == UInt8(ascii: ".") {
            bytes = bytes.dropFirst()
            fraction = bytes.prefix(while: isDigit)
            guard !fraction.isEmpty else { return nil }
            bytes = bytes.dropFirst(fraction.count)
        }
        var exponent = 0
        if bytes.first == UInt8(ascii: "e") || bytes.first == UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            var exponentNegative = false
            if bytes.first == UInt8(ascii: "+") || bytes.first == UInt8(ascii: "-") {
                exponentNegative = bytes.first == UInt8(ascii: "-")
                bytes = bytes.dropFirst()
            }
            let exponentDigits = bytes.prefix(while: isDigit)
            guard !exponentDigits.isEmpty else { return nil }
            bytes = bytes.dropFirst(exponentDigits.count)
            for digit in exponentDigits {
                exponent = Swift.min(exponent * 10 + Int(digit - UInt8(ascii: "0")), Self.exponentLimit)
            }
            if exponentNegative { exponent = -exponent }
        }
        guard bytes.isEmpty else { return nil }
        var all = (integerPart + fraction).map { $0 - UInt8(ascii: "0") }[...]
        exponent -= fraction.count
        all = all.drop { $0 == 0 }
        while all.last == 0 {
            all = all.dropLast()
            exponent += 1
        }
        self.digits = Array(all)
        self.negative = negative && !all.isEmpty
        self.exponent = all.isEmpty ? 0 : exponent
    }

    /// -1, 0 or 1.
    var sign: Int { digits.isEmpty ? 0 : (negative ? -1 : 1) }

    var isInteger: Bool { exponent >= 0 }

    /// The value as an `Int`, clamped to `Int.max` (for counts such as `maxLength`).
    var clampedInt: Int {
        guard sign > 0 else { return 0 }
        if digits.count + exponent > 18 { return Int.max }
        var value = 0
        for digit in digits { value = value * 10 + Int(digit) }
        for _ in 0..<exponent { value *= 10 }
        return value
    }

    static func == (lhs: ExactNumber, rhs: ExactNumber) -> Bool {
        lhs.negative == rhs.negative && lhs.exponent == rhs.exponent && lhs.digits == rhs.digits
    }

    static func < (lhs: ExactNumber, rhs: ExactNumber) -> Bool {
        if lhs.sign != rhs.sign { return lhs.sign < rhs.sign }
        if lhs.sign == 0 || lhs == rhs { return false }
        let lhsMagnitude = lhs.digits.count + lhs.exponent
        let rhsMagnitude = rhs.digits.count + rhs.exponent
        let smallerMagnitude =
            lhsMagnitude != rhsMagnitude ? lhsMagnitude < rhsMagnitude : lhs.digits.lexicographicallyPrecedes(rhs.digits)
        return lhs.negative ? !smallerMagnitude : smallerMagnitude
    }

    /// Exact when the divisor has at most 19 significant digits; otherwise through `Double`.
    func isMultiple(of divisor: ExactNumber) -> Bool {
        if sign == 0 { return true }
        // With no trailing zeros in `digits`, 10^exponent is the largest power of ten dividing the
        // value, so a divisor with a larger power of ten cannot divide it.
        if divisor.exponent > exponent { return false }
        guard divisor.digits.count <= 19, let modulus = UInt64(divisor.digits.map { String($0) }.joined()) else {
            guard let value = Double(text), let step = Double(divisor.text) else { return false }
            let quotient = value / step
            return quotient.isFinite && quotient == quotient.rounded()
        }
        func multiply(_ a: UInt64, _ b: UInt64) -> UInt64 {
            modulus.dividingFullWidth(a.multipliedFullWidth(by: b)).remainder
        }
        var remainder: UInt64 = 0
        for digit in digits { remainder = (multiply(remainder, 10 % modulus) + UInt64(digit) % modulus) % modulus }
        // remainder × 10^(exponent - divisor.exponent) mod modulus, by squaring.
        var power = exponent - divisor.exponent
        var base = 10 % modulus
        var scale: UInt64 = 1 % modulus
        while power > 0 {
            if power & 1 == 1 { scale = multiply(scale, base) }
            base = multiply(base, base)
            power >>= 1
        }
        return multiply(remainder, scale) == 0
    }
}

enum Equality {
    /// JSON equality: numbers by value (1 == 1.0), object members regardless of order.
    static func equal(_ lhs: JSONValue, _ rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.number(let a), .number(let b)):
            if a == b { return true }
            guard let x = ExactNumber(a), let y = ExactNumber(b) else { return false }
            return x == y
        case (.array(let a), .array(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { equal($0, $1) }
        case (.object(let a), .object(let b)):
            let members = JSONSchema.Compiler.uniqueMembers(a)
            guard members.count == Set(b.keys).count else { return false }
            return members.allSatisfy { key, value in b[key].map { equal(value, $0) } ?? false }
        default:
            return false
        }
    }

    /// The first pair of equal elements, found through a canonical text so that long arrays stay linear.
    static func firstDuplicate(_ elements: [JSONValue]) -> (Int, Int)? {
        var seen: [String: Int] = [:]
        for (offset, element) in elements.enumerated() {
            let key = canonical(element)
            if let first = seen[key] { return (first, offset) }
            seen[key] = offset
        }
        return nil
    }

    /// Text that is the same for equal values: numbers as exact decimals, members sorted by name.
    static func canonical(_ value: JSONValue) -> String {
        switch value {
        case .null, .bool, .string:
            return JSONWriter.string(value)
        case .number(let text):
            guard let number = ExactNumber(text) else { return "?" + text }
            return (number.negative ? "-" : "") + number.digits.map { String($0) }.joined() + "e\(number.exponent)"
        case .array(let elements):
            return "[" + elements.map(canonical).joined(separator: ",") + "]"
        case .object(let object):
            let members = JSONSchema.Compiler.uniqueMembers(object).sorted { $0.0 < $1.0 }
            return "{" + members.map { JSONWriter.string(.string($0.0)) + ":" + canonical($0.1) }.joined(separator: ",") + "}"
        }
    }
}

enum Describe {
    /// "a string", "an object", for "must be X, not a string".
    static func kind(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// The value as compact JSON, shortened.
    static func value(_ value: JSONValue) -> String {
        let text = JSONWriter.string(value)
        guard text.count > 60 else { return text }
        return String(text.prefix(57)) + "…"
    }

    /// An `enum` option: plain words bare ("GET"), anything else as JSON.
    static func option(_ value: JSONValue) -> String {
        if case .string(let text) = value, !text.isEmpty, !["true", "false", "null"].contains(text), ExactNumber(text) == nil,
            text.utf8.allSatisfy({ byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                    UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "/"), UInt8(ascii: ":"):
                    true
                default:
                    false
                }
            })
        {
            return text
        }
        return Self.value(value)
    }

    static func count(_ count: Int, _ noun: String) -> String {
        count == Int.max ? "very many \(noun)s" : "\(count) \(noun)\(count == 1 ? "" : "s")"
    }

    /// "a", "a or b", "a, b or c".
    static func list(_ words: [String], conjunction: String) -> String {
        guard words.count > 1 else { return words.first ?? "" }
        return words.dropLast().joined(separator: ", ") + " \(conjunction) " + words.last!
    }

    /// The name a misspelt `key` most likely meant, if one is close enough.
    static func closest(to key: String, among names: [String]) -> String? {
        let lowered = Array(key.lowercased().unicodeScalars)
        var best: (name: String, distance: Int)?
        for name in names {
            let distance = editDistance(lowered, Array(name.lowercased().unicodeScalars))
            if distance <= Swift.max(1, Swift.min(2, name.unicodeScalars.count / 3)), distance < best?.distance ?? Int.max {
                best = (name, distance)
            }
        }
        return best?.name
    }

    private static func editDistance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
        var previous = Array(0...b.count)
        for (i, scalar) in a.enumerated() {
            var current = [i + 1] + Array(repeating: 0, count: b.count)
            for j in b.indices {
                current[j + 1] = Swift.min(previous[j + 1] + 1, current[j] + 1, previous[j] + (scalar == b[j] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}

/// JSON Pointer (RFC 6901) tokens inside a URI fragment.
enum Pointer {
    static func escape(_ token: String) -> String {
        guard token.contains("~") || token.contains("/") else { return token }
        var escaped = ""
        for character in token {
            switch character {
            case "~": escaped += "~0"
            case "/": escaped += "~1"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    static func unescape(_ token: String) -> String {
        guard token.contains("~") else { return token }
        var result = ""
        var iterator = token.makeIterator()
        while let character = iterator.next() {
            guard character == "~" else {
                result.append(character)
                continue
            }
            switch iterator.next() {
            case "0": result += "~"
            case "1": result += "/"
            case let other?: result += "~" + String(other)
            case nil: result += "~"
            }
        }
        return result
    }

    static func percentDecode(_ text: String) -> String? {
        guard text.contains("%") else { return text }
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard utf8.count >= 2, let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) else { return nil }
            bytes.append(value)
            utf8 = utf8.dropFirst(2)
        }
        return String(validating: bytes, as: UTF8.self)
    }
}

// MARK: - Formats

enum Formats {
    static func check(_ format: JSONSchema.Format, _ text: String) -> Bool {
        switch format {
        case .uri: isURI(text)
        case .hostname: isHostname(text)
        case .ipv4: isIPv4(Substring(text))
        case .ipv6: isIPv6(text)
        case .dateTime: isDateTime(Array(text.utf8))
        case .date: isDate(Array(text.utf8)[...])
        case .time: isTime(Array(text.utf8)[...])
        case .uuid: isUUID(text)
        case .regex: (try? Regex(text)) != nil
        }
    }

    private static func isASCIILetter(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }

    private static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

    private static func isHex(_ byte: UInt8) -> Bool {
        isDigit(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte)
    }

    /// An RFC 3986 absolute URI; for schemes with an authority (http, https, ws, wss, ftp) a host is required.
    static func isURI(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")), colon > 0, isASCIILetter(bytes[0]) else { return false }
        let scheme = bytes[..<colon]
        guard scheme.allSatisfy({ isASCIILetter($0) || isDigit($0) || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") })
        else { return false }
        let allowed = Set("-._~:/?#[]@!$&'()*+,;=".utf8)
        var index = colon + 1
        var fragments = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.count, isHex(bytes[index + 1]), isHex(bytes[index + 2]) else { return false }
                index += 3
                continue
            }
            guard isASCIILetter(byte) || isDigit(byte) || allowed.contains(byte) else { return false }
            if byte == UInt8(ascii: "#") { fragments += 1 }
            index += 1
        }
        guard fragments <= 1 else { return false }
        let schemeName = String(decoding: scheme, as: UTF8.self).lowercased()
        guard ["http", "https", "ws", "wss", "ftp"].contains(schemeName) else { return true }
        let rest = bytes[(colon + 1)...]
        guard rest.starts(with: "//".utf8) else { return false }
        let authority = rest.dropFirst(2).prefix { $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: "?") && $0 != UInt8(ascii: "#") }
        let hostAndPort = authority.split(separator: UInt8(ascii: "@"), omittingEmptySubsequences: false).last ?? []
        let host: ArraySlice<UInt8>
        let port: ArraySlice<UInt8>
        if hostAndPort.first == UInt8(ascii: "[") {
            guard let close = hostAndPort.firstIndex(of: UInt8(ascii: "]")) else { return false }
            host = hostAndPort[hostAndPort.startIndex...close]
            port = hostAndPort[(close + 1)...]
            guard port.isEmpty || port.first == UInt8(ascii: ":") else { return false }
        } else if let portColon = hostAndPort.lastIndex(of: UInt8(ascii: ":")) {
            host = hostAndPort[..<portColon]
            port = hostAndPort[portColon...]
        } else {
            host = hostAndPort
            port = []
        }
        return !host.isEmpty && port.dropFirst().allSatisfy(isDigit)
    }

    /// RFC 1123: dot-separated labels of letters, digits and hyphens, 1–63 long, not starting or
    /// ending with a hyphen, 253 characters at most; one trailing dot allowed.
    static func isHostname(_ text: String) -> Bool {
        var name = Substring(text)
        if name.hasSuffix(".") && name.count > 1 { name = name.dropLast() }
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            let bytes = label.utf8
            return (1...63).contains(bytes.count) && bytes.first != UInt8(ascii: "-") && bytes.last != UInt8(ascii: "-")
                && bytes.allSatisfy { isASCIILetter($0) || isDigit($0) || $0 == UInt8(ascii: "-") }
        }
    }

    /// Four decimal octets, no leading zeros.
    static func isIPv4(_ text: Substring) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in
            let bytes = Array(part.utf8)
            guard (1...3).contains(bytes.count), bytes.allSatisfy(isDigit), bytes.count == 1 || bytes[0] != UInt8(ascii: "0") else { return false }
            return Int(String(part))! <= 255
        }
    }

    /// RFC 4291 text forms, with `::` and a trailing dotted IPv4; no zone.
    static func isIPv6(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.allSatisfy({ isHex($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") }) else { return false }
        let groups: [Substring]
        let compressed: Bool
        if let gap = text.firstRange(of: "::") {
            let left = text[..<gap.lowerBound]
            let right = text[gap.upperBound...]
            guard right.firstRange(of: "::") == nil else { return false }
            let head = left.isEmpty ? [] : left.split(separator: ":", omittingEmptySubsequences: false)
            let tail = right.isEmpty ? [] : right.split(separator: ":", omittingEmptySubsequences: false)
            groups = head + tail
            compressed = true
        } else {
            groups = text.split(separator: ":", omittingEmptySubsequences: false)
            compressed = false
        }
        var count = 0
        for (offset, group) in groups.enumerated() {
            if group.contains(".") {
                guard offset == groups.count - 1, isIPv4(group) else { return false }
                count += 2
            } else {
                guard (1...4).contains(group.utf8.count) else { return false }
                count += 1
            }
        }
        return compressed ? count <= 7 : count == 8
    }

    static func isUUID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return false }
        return bytes.indices.allSatisfy { index in
            [8, 13, 18, 23].contains(index) ? bytes[index] == UInt8(ascii: "-") : isHex(bytes[index])
        }
    }

    private static func number(_ bytes: ArraySlice<UInt8>) -> Int? {
        guard !bytes.isEmpty, bytes.allSatisfy(isDigit) else { return nil }
        return bytes.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
    }

    /// RFC 3339 full-date: YYYY-MM-DD with a real day of the month.
    static func isDate(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard bytes.count == 10 else { return false }
        let start = bytes.startIndex
        guard bytes[start + 4] == UInt8(ascii: "-"), bytes[start + 7] == UInt8(ascii: "-"),
            let year = number(bytes[start..<start + 4]), let month = number(bytes[start + 5..<start + 7]),
            let day = number(bytes[start + 8..<start + 10]), (1...12).contains(month)
        else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        return (1...days).contains(day)
    }

    /// RFC 3339 full-time: HH:MM:SS[.frac](Z|±HH:MM); a leap second only at 23:59:60 UTC.
    static func isTime(_ bytes: ArraySlice<UInt8>) -> Bool {
        let start = bytes.startIndex
        guard bytes.count >= 9, bytes[start + 2] == UInt8(ascii: ":"), bytes[start + 5] == UInt8(ascii: ":"),
            let hour = number(bytes[start..<start + 2]), let minute = number(bytes[start + 3..<start + 5]),
            let second = number(bytes[start + 6..<start + 8]), hour <= 23, minute <= 59, second <= 60
        else { return false }
        var rest = bytes[(start + 8)...]
        if rest.first == UInt8(ascii: ".") {
            let fraction = rest.dropFirst().prefix(while: isDigit)
            guard !fraction.isEmpty else { return false }
            rest = rest.dropFirst(1 + fraction.count)
        }
        var offsetMinutes = 0
        if rest.count == 1, rest.first == UInt8(ascii: "Z") || rest.first == UInt8(ascii: "z") {
            offsetMinutes = 0
        } else {
            let offsetStart = rest.startIndex
            guard rest.count == 6, rest.first == UInt8(ascii: "+") || rest.first == UInt8(ascii: "-"), rest[offsetStart + 3] == UInt8(ascii: ":"),
                let offsetHour = number(rest[offsetStart + 1..<offsetStart + 3]), let offsetMinute = number(rest[offsetStart + 4..<offsetStart + 6]),
                offsetHour <= 23, offsetMinute <= 59
            else { return false }
            offsetMinutes = (offsetHour * 60 + offsetMinute) * (rest.first == UInt8(ascii: "-") ? -1 : 1)
        }
        if second == 60 {
            let utc = ((hour * 60 + minute - offsetMinutes) % 1440 + 1440) % 1440
            return utc == 23 * 60 + 59
        }
        return true
    }

    static func isDateTime(_ bytes: [UInt8]) -> Bool {
        guard bytes.count > 11, bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: "t") else { return false }
        return isDate(bytes[0..<10]) && isTime(bytes[11...])
    }
}
