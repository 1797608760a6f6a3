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

    public static func < (left: MonitorKey, right: MonitorKey) -> Bool {
        (left.namespace, left.name) < (right.namespace, right.name)
    }
}

/// The desired state of one monitor as an apply file states it. Only the fields the file gives are
/// managed: the others keep whatever the server has (its defaults on creation).
public struct MonitorSpec: Sendable, Equatable {
    public var key: MonitorKey
    public var kind: String
    /// Managed settings under their wire names (`target`, `interval_ms`…), durations in milliseconds.
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
        public enum Kind: Sendable { case string(maxLength: Int), object, duration, integer, bool, stringList }
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
        Field(key: "description", kind: .string(maxLength: 10_000), constantDefault: .string(""), isSet: false),
        Field(key: "config", kind: .object, constantDefault: .object(JSONObject()), isSet: false),
    ]

    /// Server-maintained members that files may carry (from `get -o yaml`) and apply ignores.
    public static let readOnlyKeys: Set<String> = ["id", "version", "created_at", "updated_at", "status", "warnings"]

    static func field(named key: String) -> Field? {
        settableFields.first { $0.key == key }
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
    /// the pause state (operational, not configuration) are left out.
    public init(serverMonitor monitor: JSONObject) {
        key = MonitorKey(namespace: monitor["namespace"]?.stringValue ?? "default", name: monitor["name"]?.stringValue ?? "")
        kind = monitor["kind"]?.stringValue ?? ""
        var fields = JSONObject()
        for field in Self.settableFields {
            guard let value = monitor[field.key], value != .null else { continue }
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
            } else {
                object.append(field.key, value)
            }
        }
        if let paused { object.append("paused", .bool(paused)) }
        return object
    }

    /// Parameters for monitor.create.
    public var createParams: JSONObject {
        var params = JSONObject()
        params.append("namespace", .string(key.namespace))
        params.append("name", .string(key.name))
        params.append("kind", .string(kind))
        for index in 0..<fields.count { params.append(fields.keys[index], fields.values[index]) }
        return params
    }
}
