/// A request id: a string, a number (kept as its exact text), or null. Echoed verbatim.
public enum JSONRPCID: Sendable, Hashable, CustomStringConvertible {
    case string(String)
    case number(String)
    case null

    public var json: JSONValue {
        switch self {
        case .string(let text): .string(text)
        case .number(let text): .number(text)
        case .null: .null
        }
    }

    public var description: String { JSONWriter.string(json) }
}

/// `params`: absent, by position, or by name.
public enum JSONRPCParams: Sendable, Hashable {
    case none
    case array([JSONValue])
    case object(JSONObject)
}

/// A valid request; `id == nil` makes it a notification, which is never answered.
public struct JSONRPCRequest: Sendable, Hashable {
    public var id: JSONRPCID?
    public var method: String
    public var params: JSONRPCParams

    public init(id: JSONRPCID?, method: String, params: JSONRPCParams = .none) {
        self.id = id
        self.method = method
        self.params = params
    }

    public var isNotification: Bool { id == nil }
}

/// An error answer. `kind` goes into `error.data.kind`: a stable word scripts can test.
public struct JSONRPCError: Error, Sendable, Hashable, CustomStringConvertible {
    public var code: Int
    public var message: String
    public var data: JSONValue?

    public init(code: Int, message: String, kind: String? = nil, details: JSONObject = JSONObject()) {
        self.code = code
        self.message = message
        if let kind {
            var object = JSONObject()
            object.append("kind", .string(kind))
            for index in 0..<details.count { object.append(details.keys[index], details.values[index]) }
            data = .object(object)
        } else {
            data = details.count == 0 ? nil : .object(details)
        }
    }

    /// `error.data.kind`, if any.
    public var kind: String? { data?.objectValue?["kind"]?.stringValue }

    public var description: String { "JSON-RPC error \(code): \(message)" }

    // The spec's codes.
    public static let parseErrorCode = -32700
    public static let invalidRequestCode = -32600
    public static let methodNotFoundCode = -32601
    public static let invalidParamsCode = -32602
    public static let internalErrorCode = -32603

    public static func parseError(_ detail: String) -> JSONRPCError {
        JSONRPCError(code: parseErrorCode, message: "Parse error: \(detail)", kind: "parse_error")
    }

    public static func invalidRequest(_ detail: String, kind: String = "invalid_request") -> JSONRPCError {
        JSONRPCError(code: invalidRequestCode, message: "Invalid Request: \(detail)", kind: kind)
    }

    public static func methodNotFound(_ method: String) -> JSONRPCError {
        JSONRPCError(code: methodNotFoundCode, message: "Method not found: \(method)", kind: "method_not_found")
    }

    /// Bad params; `field` names the culprit (a JSON Pointer-ish path such as `config.timeout_ms`).
    public static func invalidParams(_ detail: String, field: String? = nil) -> JSONRPCError {
        var details = JSONObject()
        if let field { details.append("field", .string(field)) }
        return JSONRPCError(code: invalidParamsCode, message: "Invalid params: \(detail)", kind: "invalid_params", details: details)
    }

    public static func internalError(_ detail: String) -> JSONRPCError {
        JSONRPCError(code: internalErrorCode, message: "Internal error: \(detail)", kind: "internal_error")
    }
}

/// Builds response objects: `result` is always present on success (even when null), never on error.
public enum JSONRPCResponse {
    public static func success(id: JSONRPCID, result: JSONValue) -> JSONValue {
        var object = JSONObject()
        object.append("jsonrpc", .string("2.0"))
        object.append("result", result)
        object.append("id", id.json)
        return .object(object)
    }

    public static func failure(id: JSONRPCID, error: JSONRPCError) -> JSONValue {
        var failure = JSONObject()
        failure.append("code", .int(error.code))
        failure.append("message", .string(error.message))
        if let data = error.data { failure.append("data", data) }
        var object = JSONObject()
        object.append("jsonrpc", .string("2.0"))
        object.append("error", .object(failure))
        object.append("id", id.json)
        return .object(object)
    }

    /// A server-to-client notification (events, subscriptions).
    public static func notification(method: String, params: JSONValue) -> JSONValue {
        var object = JSONObject()
        object.append("jsonrpc", .string("2.0"))
        object.append("method", .string(method))
        object.append("params", params)
        return .object(object)
    }
}
