import PinguinWire

/// One line from a plugin's stdout, read as a JSON-RPC response. Anything else on stdout (a
/// request, a notification, a stray print) is a protocol violation.
struct PluginAnswer: Sendable {
    enum Body: Sendable {
        case result(JSONValue)
        case error(JSONRPCError)
    }

    /// nil for `"id": null` (the plugin could not read a request of ours).
    var id: Int64?
    var body: Body

    var errorMessage: String? {
        if case .error(let error) = body { return error.message }
        return nil
    }

    static func parse(_ bytes: [UInt8]) -> Result<PluginAnswer, Problem> {
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes)
        } catch {
            return .failure(Problem("stdout line is not JSON (\(error.reason) at byte \(error.offset)): \(excerpt(bytes))"))
        }
        guard let object = value.objectValue else {
            return .failure(Problem("stdout line is not a JSON-RPC response object: \(excerpt(bytes))"))
        }
        guard object["jsonrpc"]?.stringValue == "2.0" else {
            return .failure(Problem("answer lacks \"jsonrpc\": \"2.0\": \(excerpt(bytes))"))
        }
        if object["method"] != nil {
            return .failure(Problem("plugins send no requests or notifications, got \(excerpt(bytes))"))
        }
        let id: Int64?
        switch object["id"] {
        case .null?: id = nil
        case let idValue? where idValue.int64Value != nil: id = idValue.int64Value
        default: return .failure(Problem("answer has no integer \"id\": \(excerpt(bytes))"))
        }
        switch (object["result"], object["error"]) {
        case (let result?, nil):
            guard id != nil else { return .failure(Problem("a result with \"id\": null: \(excerpt(bytes))")) }
            return .success(PluginAnswer(id: id, body: .result(result)))
        case (nil, let error?):
            guard let error = error.objectValue, let code = error["code"]?.int64Value, let message = error["message"]?.stringValue else {
                return .failure(Problem("\"error\" needs an integer \"code\" and a string \"message\": \(excerpt(bytes))"))
            }
            var rpcError = JSONRPCError(code: Int(code), message: message)
            rpcError.data = error["data"]
            return .success(PluginAnswer(id: id, body: .error(rpcError)))
        default:
            return .failure(Problem("an answer has exactly one of \"result\" and \"error\": \(excerpt(bytes))"))
        }
    }

    struct Problem: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// The start of a line, for a message: enough to recognise it, never a whole 1 MiB line.
    static func excerpt(_ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes.prefix(120), as: UTF8.self)
        return bytes.count > 120 ? "\(text)…" : text
    }
}
