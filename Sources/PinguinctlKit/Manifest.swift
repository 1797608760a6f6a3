public import PinguinWire
import Yams

/// The monitors one or more apply files declare.
///
/// A file holds YAML documents, each either one monitor (a mapping with `name:`) or a mapping with a
/// `monitors:` list and an optional `namespace:` that its monitors default to. Durations may be
/// written `interval: 30s` or `interval_ms: 30000`.
public struct Manifest: Sendable, Equatable {
    public var monitors: [MonitorSpec]
    /// Namespaces the files name (through monitors or a document's `namespace:`): `--prune` stays
    /// inside them.
    public var namespaces: Set<String>

    public init(monitors: [MonitorSpec] = [], namespaces: Set<String> = []) {
        self.monitors = monitors
        self.namespaces = namespaces
    }

    public static let defaultNamespace = "default"

    /// Parses and checks one file completely; `source` names it in errors.
    public static func parse(_ text: String, source: String) throws(CLIFailure) -> Manifest {
        let nodes: [Node?]
        do {
            nodes = try YAMLBridge.documents(text)
        } catch {
            throw CLIFailure.usage("\(source): \(error.message)")
        }
        var manifest = Manifest()
        for (index, node) in nodes.enumerated() {
            guard let node else { continue }
            let context = FileContext(source: source, document: index + 1, multiple: nodes.count > 1)
            try manifest.parseDocument(node, context: context)
        }
        try manifest.checkDuplicates(sources: [source])
        try manifest.checkCycles(sources: [source])
        return manifest
    }

    /// Several files as one; a monitor declared twice is an error.
    public static func combine(_ parts: [(source: String, manifest: Manifest)]) throws(CLIFailure) -> Manifest {
        var combined = Manifest()
        var origins: [MonitorKey: String] = [:]
        for part in parts {
            for monitor in part.manifest.monitors {
                if let first = origins[monitor.key] {
                    throw CLIFailure.usage("\(part.source): monitor \(monitor.key) is already declared in \(first)")
                }
                origins[monitor.key] = part.source
                combined.monitors.append(monitor)
            }
            combined.namespaces.formUnion(part.manifest.namespaces)
        }
        try combined.checkCycles(sources: parts.map(\.source))
        return combined
    }

    /// The apply format for these server monitors: one document with a `monitors:` list, sorted.
    /// `depends_on` is written by name; `others` are further monitors they may depend on.
    public static func export(_ monitors: [JSONObject], others: [JSONObject] = []) -> String {
        let names = MonitorKey.byID(others + monitors)
        let specs = monitors.map { MonitorSpec(serverMonitor: $0, names: names) }.sorted { $0.key < $1.key }
        var root = JSONObject()
        root.append("monitors", .array(specs.map { .object($0.document) }))
        return YAMLBridge.string(.object(root))
    }

    /// The monitors with each one's dependencies (those the files declare) before it, otherwise in
    /// file order; `cycle` is a dependency cycle (`a, b, a`) that makes such an order impossible.
    public func orderedByDependencies() -> (order: [MonitorSpec], cycle: [MonitorKey]?) {
        let byKey = Dictionary(monitors.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        var order: [MonitorSpec] = []
        var done = Set<MonitorKey>()
        var path: [MonitorKey] = []
        // Depth first; `path` holds the monitors being visited, so meeting one again is a cycle.
        func visit(_ spec: MonitorSpec) -> [MonitorKey]? {
            if done.contains(spec.key) { return nil }
            if let start = path.firstIndex(of: spec.key) { return Array(path[start...]) + [spec.key] }
            path.append(spec.key)
            for dependency in spec.dependsOn {
                if let next = byKey[dependency], let cycle = visit(next) { return cycle }
            }
            path.removeLast()
            done.insert(spec.key)
            order.append(spec)
            return nil
        }
        for spec in monitors {
            if let cycle = visit(spec) { return (order, cycle) }
        }
        return (order, nil)
    }

    private func checkCycles(sources: [String]) throws(CLIFailure) {
        if let cycle = orderedByDependencies().cycle {
            throw CLIFailure.usage("\(sources.joined(separator: ", ")): depends_on makes a cycle: \(cycle.map(\.description).joined(separator: " -> "))")
        }
    }

    // MARK: Parsing

    struct FileContext {
        var source: String
        var document: Int
        var multiple: Bool

        func failure(_ path: String, _ node: Node?, _ message: String) -> CLIFailure {
            let line = node?.mark.map { ":\($0.line)" } ?? ""
            let document = multiple ? " document \(self.document):" : ""
            let at = path.isEmpty ? "" : " \(path):"
            return CLIFailure.usage("\(source)\(line):\(document)\(at) \(message)")
        }
    }

    private mutating func checkDuplicates(sources: [String]) throws(CLIFailure) {
        var seen = Set<MonitorKey>()
        for monitor in monitors where !seen.insert(monitor.key).inserted {
            throw CLIFailure.usage("\(sources.joined(separator: ", ")): monitor \(monitor.key) is declared twice")
        }
    }

    private mutating func parseDocument(_ node: Node, context: FileContext) throws(CLIFailure) {
        switch node {
        case .sequence(let sequence):
            for (index, element) in sequence.enumerated() {
                try parseMonitor(element, path: "[\(index)]", defaultNamespace: Self.defaultNamespace, context: context)
            }
        case .mapping(let mapping):
            if mapping["monitors"] != nil || mapping["name"] == nil {
                try parseList(mapping, node: node, context: context)
            } else {
                try parseMonitor(node, path: "", defaultNamespace: Self.defaultNamespace, context: context)
            }
        default:
            throw context.failure("", node, "expected a monitor (a mapping with name:) or a mapping with a monitors: list")
        }
    }

    private mutating func parseList(_ mapping: Node.Mapping, node: Node, context: FileContext) throws(CLIFailure) {
        var namespace = Self.defaultNamespace
        for (key, value) in mapping {
            let name = key.scalar?.string ?? ""
            switch name {
            case "namespace":
                namespace = try Self.namespace(value, path: "namespace", context: context)
                namespaces.insert(namespace)
            case "monitors":
                break
            case "channels", "maintenance":
                throw context.failure(name, key, "apply manages monitors only so far; use `pinguinctl \(name == "channels" ? "channel" : "maintenance") add`")
            default:
                throw context.failure(name, key, "unknown key (expected monitors, namespace)")
            }
        }
        guard let list = mapping["monitors"] else {
            throw context.failure("", node, "expected a monitor (a mapping with name:) or a mapping with a monitors: list")
        }
        if case .scalar = list, list.tag.description == Tag.Name.null.rawValue { return }
        guard case .sequence(let sequence) = list else {
            throw context.failure("monitors", list, "must be a list")
        }
        for (index, element) in sequence.enumerated() {
            try parseMonitor(element, path: "monitors[\(index)]", defaultNamespace: namespace, context: context)
        }
    }

    private static func namespace(_ node: Node, path: String, context: FileContext) throws(CLIFailure) -> String {
        guard case .scalar(let scalar) = node, Self.matches(scalar.string, first: "a-z0-9", rest: "a-z0-9_.-", maxLength: 63) else {
            throw context.failure(path, node, "must be lower-case letters, digits, _ . - (at most 63, starting with a letter or digit)")
        }
        return scalar.string
    }

    /// `text` is one character of `first` then up to `maxLength - 1` of `rest` (ranges like a-z).
    static func matches(_ text: String, first: String, rest: String, maxLength: Int) -> Bool {
        func allowed(_ character: Character, _ set: String) -> Bool {
            guard let ascii = character.asciiValue else { return false }
            var characters = Array(set)
            var index = 0
            while index < characters.count {
                if index + 2 < characters.count, characters[index + 1] == "-",
                   let low = characters[index].asciiValue, let high = characters[index + 2].asciiValue {
                    if (low...high).contains(ascii) { return true }
                    index += 3
                } else {
                    if characters[index] == character { return true }
                    index += 1
                }
            }
            characters.removeAll()
            return false
        }
        guard let head = text.first, text.count <= maxLength, allowed(head, first) else { return false }
        return text.dropFirst().allSatisfy { allowed($0, rest) }
    }

    private mutating func parseMonitor(_ node: Node, path: String, defaultNamespace: String, context: FileContext) throws(CLIFailure) {
        guard case .mapping(let mapping) = node else {
            throw context.failure(path, node, "a monitor must be a mapping")
        }
        func child(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
        var namespace = defaultNamespace
        var name: String?
        var kind: String?
        var paused: Bool?
        var values: [String: (value: JSONValue, node: Node, spelled: String)] = [:]
        var seen = Set<String>()
        for (keyNode, valueNode) in mapping {
            guard let key = keyNode.scalar?.string else { throw context.failure(path, keyNode, "keys must be strings") }
            guard seen.insert(key).inserted else { throw context.failure(child(key), keyNode, "given twice") }
            let value = try YAMLBridge.json(valueNode, path: child(key))
            switch key {
            case "namespace":
                namespace = try Self.namespace(valueNode, path: child(key), context: context)
            case "name":
                guard let text = value.stringValue, !text.isEmpty, text.count <= 200 else {
                    throw context.failure(child(key), valueNode, "must be a string of 1 to 200 characters")
                }
                name = text
            case "kind":
                guard let text = value.stringValue, Self.matches(text, first: "a-z0-9", rest: "a-z0-9_-", maxLength: 63) else {
                    throw context.failure(child(key), valueNode, "must be a checker kind such as http, tcp, dns, ping")
                }
                kind = text
            case "paused":
                guard let flag = value.boolValue else { throw context.failure(child(key), valueNode, "must be true or false") }
                paused = flag
            case _ where MonitorSpec.readOnlyKeys.contains(key):
                continue
            default:
                let field = MonitorSpec.field(named: key)
                    ?? MonitorSpec.settableFields.first { $0.durationAlias == key }
                guard let field else {
                    let known = MonitorSpec.settableFields.map { $0.durationAlias ?? $0.key }
                    throw context.failure(child(key), keyNode, "unknown field (expected namespace, name, kind, paused, \(known.joined(separator: ", ")))")
                }
                if let earlier = values[field.key] {
                    throw context.failure(child(key), keyNode, "given twice (also as \(earlier.spelled))")
                }
                let normalized = try Self.check(value, field: field, spelled: key, path: child(key), node: valueNode, context: context)
                values[field.key] = (normalized, valueNode, key)
            }
        }
        guard let name else { throw context.failure(path.isEmpty ? "name" : child("name"), node, "missing (every monitor needs a name)") }
        guard let kind else { throw context.failure(child("kind"), node, "missing (http, tcp, dns, ping or a plugin's kind)") }
        guard values["target"] != nil else { throw context.failure(child("target"), node, "missing (what to check: URL, host:port, name)") }
        if let interval = values["interval_ms"]?.value.int64Value, let timeout = values["timeout_ms"] {
            if let milliseconds = timeout.value.int64Value, milliseconds > interval {
                throw context.failure(child(timeout.spelled), timeout.node, "must be at most the interval")
            }
        }
        let key = MonitorKey(namespace: namespace, name: name)
        if let entry = values["depends_on"] {
            var dependencies: [JSONValue] = []
            for reference in entry.value.arrayValue ?? [] {
                var dependency = reference
                if let text = reference.stringValue {
                    let dependencyKey = MonitorKey(reference: text, namespace: namespace)
                    guard dependencyKey != key else { throw context.failure(child(entry.spelled), entry.node, "a monitor cannot depend on itself") }
                    dependency = .string(dependencyKey.description)
                }
                if !dependencies.contains(where: { $0.isSemanticallyEqual(to: dependency) }) { dependencies.append(dependency) }
            }
            guard dependencies.count <= MonitorSpec.maximumDependencies else {
                throw context.failure(child(entry.spelled), entry.node, "names more than \(MonitorSpec.maximumDependencies) monitors")
            }
            values["depends_on"]?.value = .array(dependencies)
        }
        var fields = JSONObject()
        for field in MonitorSpec.settableFields {
            if let entry = values[field.key] { fields.append(field.key, entry.value) }
        }
        namespaces.insert(namespace)
        monitors.append(MonitorSpec(key: key, kind: kind, fields: fields, paused: paused))
    }

    private static func check(_ value: JSONValue, field: MonitorSpec.Field, spelled: String, path: String, node: Node, context: FileContext) throws(CLIFailure) -> JSONValue {
        switch field.kind {
        case .string(let maxLength):
            guard let text = value.stringValue else { throw context.failure(path, node, "must be a string, not \(value.typeName)") }
            guard text.count <= maxLength else { throw context.failure(path, node, "is longer than \(maxLength) characters") }
            return value
        case .object:
            if value == .null { return .object(JSONObject()) }
            guard value.objectValue != nil else { throw context.failure(path, node, "must be a mapping, not \(value.typeName)") }
            return value
        case .bool:
            guard value.boolValue != nil else { throw context.failure(path, node, "must be true or false") }
            return value
        case .stringList:
            if value == .null { return .array([]) }
            guard let list = value.arrayValue, list.allSatisfy({ $0.stringValue != nil }) else {
                throw context.failure(path, node, "must be a list of strings")
            }
            return value
        case .monitorList:
            // Names are resolved against the monitor's namespace once the whole mapping is read;
            // ids are what `monitor get -o yaml` shows.
            if value == .null { return .array([]) }
            guard let list = value.arrayValue, list.allSatisfy({ !($0.stringValue ?? "").isEmpty || ($0.int64Value ?? 0) > 0 }) else {
                throw context.failure(path, node, "must be a list of monitors (NAME, NAMESPACE/NAME or id)")
            }
            return value
        case .integer, .duration:
            let number: Int64?
            if case .duration = field.kind, spelled == field.durationAlias {
                switch value {
                case .string(let text): number = DurationText.milliseconds(text)
                default: number = nil
                }
                guard let number else {
                    throw context.failure(path, node, "\(value.displayText.debugDescription) is not a duration (write 500ms, 30s, 1m, 1h; or use \(field.key) in milliseconds)")
                }
                return try inRange(number, field: field, path: path, node: node, context: context, display: DurationText.format(milliseconds:))
            }
            number = value.int64Value
            guard let number else { throw context.failure(path, node, "must be a whole number") }
            return try inRange(number, field: field, path: path, node: node, context: context, display: { "\($0)" })
        }
    }

    private static func inRange(_ number: Int64, field: MonitorSpec.Field, path: String, node: Node, context: FileContext, display: (Int64) -> String) throws(CLIFailure) -> JSONValue {
        if let range = field.range, !range.contains(number) {
            throw context.failure(path, node, "must be between \(display(range.lowerBound)) and \(display(range.upperBound))")
        }
        return .int(number)
    }
}
