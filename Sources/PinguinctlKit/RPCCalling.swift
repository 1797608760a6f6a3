public import PinguinWire

/// Something that calls control-plane methods: the socket client, or a fake in tests. Failures
/// are ``CLIFailure``s (the server's error with its kind, or an unreachable server).
public protocol RPCCalling {
    func call(_ method: String, params: JSONValue) throws -> JSONValue
}

extension RPCCalling {
    public func call(_ method: String, _ params: JSONObject = JSONObject()) throws -> JSONValue {
        try call(method, params: .object(params))
    }

    /// Every monitor (in `namespace` when given), following monitor.list's pages.
    public func allMonitors(namespace: String? = nil, filters: JSONObject = JSONObject()) throws -> [JSONObject] {
        var monitors: [JSONObject] = []
        var after: JSONValue = .null
        repeat {
            var params = filters
            if let namespace { params = params.setting("namespace", .string(namespace)) }
            params = params.setting("limit", .int(1000))
            if after != .null { params = params.setting("after", after) }
            let page = try call("monitor.list", params).objectValue ?? JSONObject()
            monitors += (page["monitors"]?.arrayValue ?? []).compactMap(\.objectValue)
            after = page["next"] ?? .null
        } while after != .null
        return monitors
    }

    /// The monitors that `monitors` depend on and that are not among `known`, read one by one
    /// (one deleted meanwhile is left out).
    public func dependencies(of monitors: [JSONObject], besides known: [JSONObject]) throws -> [JSONObject] {
        try self.monitors(ids: monitors.flatMap { ($0["depends_on"]?.arrayValue ?? []).compactMap(\.int64Value) }, besides: known)
    }

    /// The monitors with these ids that are not among `known`, read one by one (one that does not
    /// exist is left out).
    public func monitors(ids: [Int64], besides known: [JSONObject]) throws -> [JSONObject] {
        var seen = Set(known.compactMap { $0["id"]?.int64Value })
        var found: [JSONObject] = []
        for id in ids where seen.insert(id).inserted {
            do {
                if let monitor = try call("monitor.get", JSONObject(["id": .int(id)])).objectValue { found.append(monitor) }
            } catch let failure as CLIFailure where failure.kind == "not_found" {
                continue
            }
        }
        return found
    }
}
