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
}
