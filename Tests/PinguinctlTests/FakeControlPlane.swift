import PinguinWire
import PinguinctlKit

/// An in-memory monitor.* server with the real one's defaults, versions and errors, for apply.
final class FakeControlPlane: RPCCalling {
    private(set) var monitors: [JSONObject] = []
    private(set) var calls: [String] = []
    private var nextID: Int64 = 1

    func call(_ method: String, params: JSONValue) throws -> JSONValue {
        calls.append(method)
        let params = params.objectValue ?? JSONObject()
        switch method {
        case "monitor.list":
            let namespace = params["namespace"]?.stringValue
            let page = monitors.filter { namespace == nil || $0["namespace"]?.stringValue == namespace }
            return .object(JSONObject(["monitors": .array(page.map(JSONValue.object)), "next": .null]))
        case "monitor.create":
            let namespace = params["namespace"]?.stringValue ?? "default"
            let name = params["name"]?.stringValue ?? ""
            if monitors.contains(where: { $0["namespace"]?.stringValue == namespace && $0["name"]?.stringValue == name }) {
                throw CLIFailure("Conflict: the name is taken [conflict]", code: .failed, kind: "conflict")
            }
            let interval = params["interval_ms"]?.int64Value ?? 60_000
            var monitor = JSONObject()
            monitor.append("id", .int(nextID))
            nextID += 1
            monitor.append("namespace", .string(namespace))
            monitor.append("name", .string(name))
            monitor.append("kind", params["kind"] ?? .null)
            monitor.append("target", params["target"] ?? .null)
            monitor.append("config", params["config"] ?? .object(JSONObject()))
            monitor.append("interval_ms", .int(interval))
            monitor.append("timeout_ms", params["timeout_ms"] ?? .int(min(10_000, interval)))
            monitor.append("retry_interval_ms", params["retry_interval_ms"] ?? .int(max(1000, interval / 3)))
            monitor.append("failure_threshold", params["failure_threshold"] ?? .int(3))
            monitor.append("recovery_threshold", params["recovery_threshold"] ?? .int(1))
            monitor.append("upside_down", params["upside_down"] ?? .bool(false))
            monitor.append("enabled", params["enabled"] ?? .bool(true))
            monitor.append("paused", .bool(false))
            // The server keeps tags sorted: apply must not see that as a change.
            let tags = (params["tags"]?.arrayValue ?? []).compactMap(\.stringValue).sorted()
            monitor.append("tags", .array(tags.map(JSONValue.string)))
            monitor.append("depends_on", try dependencies(params["depends_on"], of: nil))
            monitor.append("description", params["description"] ?? .string(""))
            monitor.append("version", .int(1))
            monitor.append("created_at", .string("2025-06-01T00:00:00Z"))
            monitor.append("updated_at", .string("2025-06-01T00:00:00Z"))
            monitor.append("status", .object(JSONObject(["state": .string("pending")])))
            monitors.append(monitor)
            return .object(monitor)
        case "monitor.update":
            let index = try find(params)
            var monitor = monitors[index]
            if let version = params["version"], version != monitor["version"] {
                throw CLIFailure("version conflict [version_conflict]", code: .failed, kind: "version_conflict")
            }
            for (position, key) in params.keys.enumerated() where !["id", "version"].contains(key) {
                guard !["namespace", "kind"].contains(key) else { throw CLIFailure("\(key) cannot change", code: .failed, kind: "invalid_params") }
                var value = params.values[position]
                if key == "tags" { value = .array((value.arrayValue ?? []).compactMap(\.stringValue).sorted().map(JSONValue.string)) }
                if key == "depends_on" { value = try dependencies(value, of: monitor["id"]?.int64Value) }
                monitor = monitor.setting(key, value)
            }
            monitor = monitor.setting("version", .int((monitor["version"]?.int64Value ?? 0) + 1))
            monitors[index] = monitor
            return .object(monitor)
        case "monitor.pause", "monitor.resume":
            let index = try find(params)
            let paused = method == "monitor.pause"
            monitors[index] = monitors[index].setting("paused", .bool(paused))
                .setting("status", .object(JSONObject(["state": .string(paused ? "paused" : "pending")])))
            return .object(monitors[index])
        case "monitor.get":
            return .object(monitors[try find(params)])
        case "monitor.delete":
            let index = try find(params)
            let id = monitors[index]["id"] ?? .null
            monitors.remove(at: index)
            // ON DELETE CASCADE
            monitors = monitors.map { $0.setting("depends_on", .array(($0["depends_on"]?.arrayValue ?? []).filter { $0 != id })) }
            return .object(JSONObject(["deleted": .bool(true), "id": id]))
        default:
            throw CLIFailure("Method not found [method_not_found]", code: .failed, kind: "method_not_found")
        }
    }

    /// Marks as if the monitor had been checked: apply must leave such state alone.
    func setState(_ name: String, _ state: String) {
        guard let index = monitors.firstIndex(where: { $0["name"]?.stringValue == name }) else { return }
        monitors[index] = monitors[index].setting("status", .object(JSONObject(["state": .string(state), "since": .string("2025-06-01T00:01:00Z")])))
    }

    func monitor(_ namespace: String, _ name: String) -> JSONObject? {
        monitors.first { $0["namespace"]?.stringValue == namespace && $0["name"]?.stringValue == name }
    }

    /// `depends_on` checked as the server checks it (existing, not itself, no cycle), sorted.
    private func dependencies(_ value: JSONValue?, of id: Int64?) throws -> JSONValue {
        let ids = Set((value?.arrayValue ?? []).compactMap(\.int64Value)).sorted()
        let known = Set(monitors.compactMap { $0["id"]?.int64Value })
        let unknown = ids.filter { !known.contains($0) }
        guard unknown.isEmpty else {
            throw CLIFailure("Invalid params: depends_on names monitors that do not exist: \(unknown.map(String.init).joined(separator: ", ")) [invalid_params]",
                             code: .failed, kind: "invalid_params")
        }
        if let id {
            var stack = ids
            var seen = Set<Int64>()
            while let next = stack.popLast() {
                guard next != id else {
                    throw CLIFailure("Invalid params: depends_on would make a cycle [invalid_params]", code: .failed, kind: "invalid_params")
                }
                guard seen.insert(next).inserted, let monitor = monitors.first(where: { $0["id"]?.int64Value == next }) else { continue }
                stack += (monitor["depends_on"]?.arrayValue ?? []).compactMap(\.int64Value)
            }
        }
        return .array(ids.map { .int($0) })
    }

    private func find(_ params: JSONObject) throws -> Int {
        guard let id = params["id"], let index = monitors.firstIndex(where: { $0["id"] == id }) else {
            throw CLIFailure("Not found [not_found]", code: .failed, kind: "not_found")
        }
        return index
    }
}
