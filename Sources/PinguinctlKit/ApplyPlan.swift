public import PinguinWire

/// One field an update changes; `depends_on` values are `namespace/name` strings.
public struct FieldChange: Sendable, Equatable {
    public var field: String
    public var old: JSONValue?
    public var new: JSONValue
}

/// What apply will do to reach a manifest from the server's monitors: computed without side
/// effects, shown by `--dry-run`, carried out by ``ApplyRunner``.
public struct ApplyPlan: Sendable, Equatable {
    public enum Action: Sendable, Equatable {
        case create(MonitorSpec)
        /// `changes` go in one monitor.update with `version`; `pause` then pauses or resumes.
        case update(id: Int64, version: Int64?, key: MonitorKey, changes: [FieldChange], pause: Bool?)
        case delete(id: Int64, key: MonitorKey)
    }

    public var actions: [Action] = []
    /// Monitors already as the manifest wants them.
    public var unchanged: [MonitorKey] = []
    /// Differences apply cannot make (a changed kind, a dependency on nothing); apply refuses to
    /// start when there are any.
    public var problems: [String] = []
    /// The ids of the server's monitors, for turning `depends_on` names into ids.
    public var monitorIDs: [MonitorKey: Int64] = [:]

    public var hasChanges: Bool { !actions.isEmpty }

    /// Compares `manifest` with `current`, the server's monitors in the manifest's namespaces and
    /// those their dependencies name. Monitors come after the ones they depend on, so that those
    /// exist (and no longer depend on them) first.
    public init(manifest: Manifest, current: [JSONObject], prune: Bool) {
        var byKey: [MonitorKey: JSONObject] = [:]
        var names: [Int64: MonitorKey] = [:]
        for monitor in current {
            guard let namespace = monitor["namespace"]?.stringValue, let name = monitor["name"]?.stringValue else { continue }
            let key = MonitorKey(namespace: namespace, name: name)
            byKey[key] = monitor
            if let id = monitor["id"]?.int64Value {
                names[id] = key
                monitorIDs[key] = id
            }
        }
        // Dependencies given by id (as `monitor get -o yaml` shows them) become names, like the server's.
        var manifest = manifest
        for index in manifest.monitors.indices {
            let spec = manifest.monitors[index]
            guard let entries = spec.fields["depends_on"]?.arrayValue else { continue }
            for id in entries.compactMap(\.int64Value) where names[id] == nil {
                problems.append("monitor \(spec.key): depends_on names monitor \(id), which does not exist")
            }
            var named: [JSONValue] = []
            for entry in MonitorSpec.dependencyKeys(.array(entries), names: names)?.arrayValue ?? [] where !named.contains(entry) {
                named.append(entry)
            }
            manifest.monitors[index].fields = spec.fields.setting("depends_on", .array(named))
        }
        let (ordered, cycle) = manifest.orderedByDependencies()
        if let cycle {
            problems.append("depends_on makes a cycle: \(cycle.map(\.description).joined(separator: " -> "))")
        }
        let declared = Set(manifest.monitors.map(\.key))
        let pruned = prune ? Set(byKey.keys.filter { manifest.namespaces.contains($0.namespace) && !declared.contains($0) }) : []
        for spec in cycle == nil ? ordered : manifest.monitors {
            for dependency in spec.dependsOn where !declared.contains(dependency) {
                if byKey[dependency] == nil {
                    problems.append("monitor \(spec.key): depends_on names \(dependency), which is neither in the files nor on the server")
                } else if pruned.contains(dependency) {
                    problems.append("monitor \(spec.key): depends_on names \(dependency), which --prune would delete")
                }
            }
            guard let existing = byKey[spec.key] else {
                actions.append(.create(spec))
                continue
            }
            if let kind = existing["kind"]?.stringValue, kind != spec.kind {
                problems.append("monitor \(spec.key): kind cannot change (\(kind) -> \(spec.kind)); delete it or give the new one another name")
                continue
            }
            var changes: [FieldChange] = []
            for index in 0..<spec.fields.count {
                let key = spec.fields.keys[index]
                let desired = spec.fields.values[index]
                guard let field = MonitorSpec.field(named: key) else { continue }
                var old = existing[key]
                if case .monitorList = field.kind { old = MonitorSpec.dependencyKeys(old, names: names) }
                if !MonitorSpec.same(field, current: old, desired: desired) {
                    changes.append(FieldChange(field: key, old: old, new: desired))
                }
            }
            var pause: Bool?
            if let wanted = spec.paused, wanted != (existing["paused"]?.boolValue ?? false) { pause = wanted }
            guard let id = existing["id"]?.int64Value else {
                problems.append("monitor \(spec.key): the server did not say its id")
                continue
            }
            if changes.isEmpty && pause == nil {
                unchanged.append(spec.key)
            } else {
                actions.append(.update(id: id, version: existing["version"]?.int64Value, key: spec.key, changes: changes, pause: pause))
            }
        }
        for key in pruned.sorted() {
            if let id = byKey[key]?["id"]?.int64Value { actions.append(.delete(id: id, key: key)) }
        }
    }

    /// The plan as diff lines: `+ create monitor default/web`, `~ update monitor default/api:
    /// interval_ms 60000 -> 30000`, `- delete monitor default/old`.
    public var diffLines: [String] {
        actions.map { action in
            switch action {
            case .create(let spec):
                var line = "+ create monitor \(spec.key)"
                line += " (\(spec.kind) \(spec.fields["target"]?.displayText ?? "")"
                if let interval = spec.fields["interval_ms"]?.int64Value { line += " every \(DurationText.format(milliseconds: interval))" }
                if spec.paused == true { line += ", paused" }
                if !spec.dependsOn.isEmpty { line += ", depends on " + spec.dependsOn.map { $0.reference(from: spec.key.namespace) }.joined(separator: ", ") }
                return line + ")"
            case .update(_, _, let key, let changes, let pause):
                var parts = changes.map { "\($0.field) \(Self.show($0.old)) -> \(Self.show($0.new))" }
                if let pause { parts.append("paused \(!pause) -> \(pause)") }
                return "~ update monitor \(key): " + parts.joined(separator: ", ")
            case .delete(_, let key):
                return "- delete monitor \(key)"
            }
        }
    }

    private static func show(_ value: JSONValue?) -> String {
        guard let value else { return "(unset)" }
        // Bare when unambiguous (URLs, hosts); quoted when empty or holding spaces or escapes.
        if case .string(let text) = value, !text.isEmpty, !text.contains(" "), JSONWriter.string(value) == "\"\(text)\"" {
            return text
        }
        return JSONWriter.string(value)
    }

    /// `N to create, N to update, N to delete, N unchanged`.
    public var summary: String { summary(done: false) }

    /// The counts, as planned (`to create`) or as done (`created`).
    public func summary(done: Bool) -> String {
        var creates = 0, updates = 0, deletes = 0
        for action in actions {
            switch action {
            case .create: creates += 1
            case .update: updates += 1
            case .delete: deletes += 1
            }
        }
        if done { return "\(creates) created, \(updates) updated, \(deletes) deleted, \(unchanged.count) unchanged" }
        return "\(creates) to create, \(updates) to update, \(deletes) to delete, \(unchanged.count) unchanged"
    }
}
