public import PinguinWire

/// A monitor's identity in files and diffs: `namespace/name`.
public struct MonitorKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var namespace: String
    public var name: String

    public init(namespace: String, name: String) {
        self.namespace = namespace
        self.name = name
    }

    public var description: String { "\(namespace)/\(name)" }

    /// A monitor named as files and flags name it: `NAMESPACE/NAME`, or a `NAME` in `namespace`.
    /// Namespaces hold no slash, so the first one separates them.
    public init(reference: String, namespace: String) {
        if let slash = reference.firstIndex(of: "/") {
            self.init(namespace: String(reference[..<slash]), name: String(reference[reference.index(after: slash)...]))
        } else {
            self.init(namespace: namespace, name: reference)
        }
    }

    /// The key of a monitor as the server shows it.
    public init?(serverMonitor monitor: JSONObject) {
        guard let namespace = monitor["namespace"]?.stringValue, let name = monitor["name"]?.stringValue else { return nil }
        self.init(namespace: namespace, name: name)
    }

    /// Server monitors' keys by id.
    public static func byID(_ monitors: [JSONObject]) -> [Int64: MonitorKey] {
        var keys: [Int64: MonitorKey] = [:]
        for monitor in monitors {
            if let id = monitor["id"]?.int64Value, let key = MonitorKey(serverMonitor: monitor) { keys[id] = key }
        }
        return keys
    }

    /// How a monitor in `namespace` names this one: the bare name when that is unambiguous.
    public func reference(from namespace: String) -> String {
        namespace == self.namespace && !name.contains("/") ? name : description
    }

    public static func < (left: MonitorKey, right: MonitorKey) -> Bool {
        (left.namespace, left.name) < (right.namespace, right.name)
    }
}

/// The desired state of one monitor as an apply file states it. Only the fields the file gives are
/// managed: the others keep whatever the server has (its defaults on creation).
public struct MonitorSpec: Sendable, Equatable {
    public var key: MonitorKey
    public var kind: String
    /// Managed settings under their wire names (`target`, `interval_ms`…), durations in milliseconds,
    /// `depends_on` as `namespace/name` strings or ids (names become ids when apply runs).
    public var fields: JSONObject
    /// Pause state, managed only when the file says `paused:`.
    public var paused: Bool?

    public init(key: MonitorKey, kind: String, fields: JSONObject, paused: Bool? = nil) {
        self.key = key
        self.kind = kind
        self.fields = fields
        self.paused = paused
    }

    /// How one settable field is written and checked.
    public struct Field: Sendable {
        public enum Kind: Sendable { case string(maxLength: Int), object, duration, integer, bool, stringList, monitorList }
        public var key: String
        public var kind: Kind
        /// The duration spelling (`interval: 30s` for `interval_ms`).
        public var durationAlias: String?
        public var range: ClosedRange<Int64>?
        /// The server's default when it is a constant: export leaves such values out.
        public var constantDefault: JSONValue?
        /// Order does not matter (tags, locations).
        public var isSet: Bool
    }

    /// Every field a file may set besides namespace, name, kind and paused, in export order.
    public static let settableFields: [Field] = [
        Field(key: "target", kind: .string(maxLength: 2048), isSet: false),
        Field(key: "interval_ms", kind: .duration, durationAlias: "interval", range: 1000...86_400_000, isSet: false),
        Field(key: "timeout_ms", kind: .duration, durationAlias: "timeout", range: 100...86_400_000, isSet: false),
        Field(key: "retry_interval_ms", kind: .duration, durationAlias: "retry_interval", range: 1000...86_400_000, isSet: false),
        Field(key: "failure_threshold", kind: .integer, range: 1...100, constantDefault: .int(3), isSet: false),
        Field(key: "recovery_threshold", kind: .integer, range: 1...100, constantDefault: .int(1), isSet: false),
        Field(key: "upside_down", kind: .bool, constantDefault: .bool(false), isSet: false),
        Field(key: "enabled", kind: .bool, constantDefault: .bool(true), isSet: false),
        Field(key: "tags", kind: .stringList, constantDefault: .array([]), isSet: true),
        Field(key: "locations", kind: .stringList, constantDefault: .array([]), isSet: true),
        Field(key: "depends_on", kind: .monitorList, constantDefault: .array([]), isSet: true),
        Field(key: "description", kind: .string(maxLength: 10_000), constantDefault: .string(""), isSet: false),
        Field(key: "config", kind: .object, constantDefault: .object(JSONObject()), isSet: false),
    ]

    /// Server-maintained members that files may carry (from `get -o yaml`) and apply ignores.
    public static let readOnlyKeys: Set<String> = ["id", "version", "created_at", "updated_at", "status", "warnings"]

    /// At most this many dependencies per monitor (as the server allows).
    public static let maximumDependencies = 20

    static func field(named key: String) -> Field? {
        settableFields.first { $0.key == key }
    }

    /// The monitors this one depends on by name (not those given by id).
    public var dependsOn: [MonitorKey] {
        (fields["depends_on"]?.arrayValue ?? []).compactMap(\.stringValue).map { MonitorKey(reference: $0, namespace: key.namespace) }
    }

    /// `depends_on` with the ids that `names` knows as `namespace/name` strings; other ids stay.
    static func dependencyKeys(_ value: JSONValue?, names: [Int64: MonitorKey]) -> JSONValue? {
        guard let entries = value?.arrayValue else { return value }
        return .array(entries.map { entry in entry.int64Value.flatMap { names[$0] }.map { .string($0.description) } ?? entry })
    }

    /// Whether a server value and a desired value mean the same; a value the server does not
    /// report equals the field's constant default.
    static func same(_ field: Field, current: JSONValue?, desired: JSONValue) -> Bool {
        guard let current, current != .null else {
            return field.constantDefault.map { $0.isSemanticallyEqual(to: desired) } ?? false
        }
        if field.isSet, let left = current.arrayValue, let right = desired.arrayValue {
            return Set(left.compactMap(\.stringValue)) == Set(right.compactMap(\.stringValue)) && left.count == right.count
        }
        return current.isSemanticallyEqual(to: desired)
    }

    /// The spec that states everything a server monitor has, for export: constant defaults and
    /// the pause state (operational, not configuration) are left out. `names` gives the monitors
    /// that `depends_on` ids stand for.
    public init(serverMonitor monitor: JSONObject, names: [Int64: MonitorKey] = [:]) {
        key = MonitorKey(namespace: monitor["namespace"]?.stringValue ?? "default", name: monitor["name"]?.stringValue ?? "")
        kind = monitor["kind"]?.stringValue ?? ""
        let namespace = key.namespace
        var fields = JSONObject()
        for field in Self.settableFields {
            var value = monitor[field.key]
            if case .monitorList = field.kind, let named = Self.dependencyKeys(value, names: names)?.arrayValue {
                // By name, not by id, so that exports of different servers compare equal.
                let keys = named.compactMap(\.stringValue).map { MonitorKey(reference: $0, namespace: namespace) }.sorted()
                value = .array(keys.map { .string($0.description) } + named.filter { $0.stringValue == nil })
            }
            guard let value, value != .null else { continue }
            if let constant = field.constantDefault, Self.same(field, current: constant, desired: value) { continue }
            fields.append(field.key, value)
        }
        self.fields = fields
        paused = nil
    }

    /// The monitor as a YAML-ready object: durations written as `interval: 30s`.
    public var document: JSONObject {
        var object = JSONObject()
        object.append("namespace", .string(key.namespace))
        object.append("name", .string(key.name))
        object.append("kind", .string(kind))
        for field in Self.settableFields {
            guard let value = fields[field.key] else { continue }
            if let alias = field.durationAlias, let milliseconds = value.int64Value {
                object.append(alias, .string(DurationText.format(milliseconds: milliseconds)))
            } else if case .monitorList = field.kind {
                object.append(field.key, .array((value.arrayValue ?? []).map { entry in
                    entry.stringValue.map { .string(MonitorKey(reference: $0, namespace: key.namespace).reference(from: key.namespace)) } ?? entry
                }))
            } else {
                object.append(field.key, value)
            }
        }
        if let paused { object.append("paused", .bool(paused)) }
        return object
    }

    /// Parameters for monitor.create, `depends_on` names not yet turned into ids.
    public var createParams: JSONObject {
        var params = JSONObject()
        params.append("namespace", .string(key.namespace))
        params.append("name", .string(key.name))
        params.append("kind", .string(kind))
        for index in 0..<fields.count { params.append(fields.keys[index], fields.values[index]) }
        return params
    }
}
