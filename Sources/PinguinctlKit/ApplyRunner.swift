public import PinguinWire

/// Carries out apply: reads the server's monitors in the manifest's namespaces, plans, and makes
/// the plan's calls, going on past a failed one so that one bad monitor does not block the rest.
public struct ApplyRunner {
    public let client: any RPCCalling

    public init(client: any RPCCalling) {
        self.client = client
    }

    /// The plan for `manifest` against the server as it is now.
    public func plan(_ manifest: Manifest, prune: Bool) throws -> ApplyPlan {
        var current: [JSONObject] = []
        for namespace in manifest.namespaces.sorted() {
            current += try client.allMonitors(namespace: namespace)
        }
        current += try dependencies(of: manifest, current: current, listed: manifest.namespaces)
        return ApplyPlan(manifest: manifest, current: current, prune: prune)
    }

    /// The monitors besides `current` that the plan must know by id and name: those `manifest`'s
    /// depends_on names, and those its monitors in `current` depend on now. `listed` are the
    /// namespaces `current` holds completely (no need to look there).
    public func dependencies(of manifest: Manifest, current: [JSONObject], listed: Set<String>) throws -> [JSONObject] {
        var known = Set(current.compactMap(MonitorKey.init(serverMonitor:)))
        var found: [JSONObject] = []
        for spec in manifest.monitors {
            for key in spec.dependsOn where !known.contains(key) && !listed.contains(key.namespace) {
                known.insert(key)
                let matches = try client.allMonitors(namespace: key.namespace, filters: JSONObject(["text": .string(key.name)]))
                found += matches.filter { $0["name"]?.stringValue == key.name }
            }
        }
        let managed = Set(manifest.monitors.map(\.key))
        let dependents = current.filter { MonitorKey(serverMonitor: $0).map(managed.contains) ?? false }
        var ids = dependents.flatMap { ($0["depends_on"]?.arrayValue ?? []).compactMap(\.int64Value) }
        ids += manifest.monitors.flatMap { ($0.fields["depends_on"]?.arrayValue ?? []).compactMap(\.int64Value) }
        return found + (try client.monitors(ids: ids, besides: current + found))
    }

    /// `depends_on` as the server takes it: a spec's `namespace/name` strings as ids.
    static func dependencyIDs(_ value: JSONValue, of key: MonitorKey, ids: [MonitorKey: Int64]) throws -> JSONValue {
        .array(try (value.arrayValue ?? []).map { entry in
            guard let reference = entry.stringValue else { return entry }
            let dependency = MonitorKey(reference: reference, namespace: key.namespace)
            guard let id = ids[dependency] else {
                throw CLIFailure("depends_on names \(dependency), which does not exist (was its creation refused?)", code: .failed)
            }
            return .int(id)
        })
    }

    /// Makes the plan's calls; `report` receives one line per monitor done, `warn` each failure
    /// or server warning. Returns how many actions failed.
    @discardableResult
    public func execute(_ plan: ApplyPlan, report: (String) -> Void, warn: (String) -> Void) -> Int {
        var failures = 0
        var ids = plan.monitorIDs
        for action in plan.actions {
            do {
                switch action {
                case .create(let spec):
                    var params = spec.createParams
                    if let dependsOn = params["depends_on"] {
                        params = params.setting("depends_on", try Self.dependencyIDs(dependsOn, of: spec.key, ids: ids))
                    }
                    let created = try client.call("monitor.create", params).objectValue ?? JSONObject()
                    for warning in created["warnings"]?.arrayValue ?? [] {
                        warn("monitor \(spec.key): \(warning.displayText)")
                    }
                    let id = created["id"]?.int64Value
                    if let id { ids[spec.key] = id }
                    if spec.paused == true, let id {
                        _ = try client.call("monitor.pause", JSONObject(["id": .int(id)]))
                    }
                    report("monitor \(spec.key) created" + (id.map { " (id \($0))" } ?? "") + (spec.paused == true ? ", paused" : ""))
                case .update(let id, let version, let key, let changes, let pause):
                    if !changes.isEmpty {
                        var params = JSONObject()
                        params.append("id", .int(id))
                        if let version { params.append("version", .int(version)) }
                        for change in changes {
                            if change.field == "depends_on" {
                                params.append(change.field, try Self.dependencyIDs(change.new, of: key, ids: ids))
                            } else {
                                params.append(change.field, change.new)
                            }
                        }
                        _ = try client.call("monitor.update", params)
                    }
                    if let pause {
                        _ = try client.call(pause ? "monitor.pause" : "monitor.resume", JSONObject(["id": .int(id)]))
                    }
                    var what = changes.map(\.field)
                    if let pause { what.append(pause ? "paused" : "resumed") }
                    report("monitor \(key) updated (\(what.joined(separator: ", ")))")
                case .delete(let id, let key):
                    _ = try client.call("monitor.delete", JSONObject(["id": .int(id)]))
                    report("monitor \(key) deleted")
                }
            } catch let failure as CLIFailure where failure.code == .unreachable {
                // Without a connection every later call fails the same way.
                warn("monitor \(Self.key(of: action)): \(failure.message)")
                return failures + plan.actions.count - (plan.actions.firstIndex(of: action) ?? 0)
            } catch let failure as CLIFailure where failure.kind == "version_conflict" {
                failures += 1
                warn("monitor \(Self.key(of: action)): changed on the server since it was read; run apply again")
            } catch {
                failures += 1
                warn("monitor \(Self.key(of: action)): \(error)")
            }
        }
        return failures
    }

    static func key(of action: ApplyPlan.Action) -> MonitorKey {
        switch action {
        case .create(let spec): spec.key
        case .update(_, _, let key, _, _): key
        case .delete(_, let key): key
        }
    }
}
