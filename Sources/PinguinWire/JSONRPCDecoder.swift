/// One entry of what a client sent: a valid request, or an invalid one with the id to answer with.
public enum JSONRPCEntry: Sendable, Hashable {
    case request(JSONRPCRequest)
    /// Not a valid request. Always answered (an invalid message is never a notification), with
    /// `id` when it could be read, null otherwise.
    case invalid(id: JSONRPCID, error: JSONRPCError)
}

/// What one line holds.
public enum JSONRPCIncoming: Sendable, Hashable {
    case single(JSONRPCEntry)
    case batch([JSONRPCEntry])
    /// The whole line is unusable (not JSON, an empty or oversized batch, neither object nor
    /// array): answered by one response object.
    case failure(id: JSONRPCID, error: JSONRPCError)
}

/// Turns one line into requests, exactly as JSON-RPC 2.0 says.
public enum JSONRPCDecoder {
    public static func decode(_ line: some Collection<UInt8>, maximumBatch: Int = 50) -> JSONRPCIncoming {
        let value: JSONValue
        do {
            value = try JSONParser.parse(line)
        } catch {
            return .failure(id: .null, error: .parseError(error.description))
        }
        switch value {
        case .array(let elements):
            guard !elements.isEmpty else {
                return .failure(id: .null, error: .invalidRequest("an empty batch"))
            }
            guard elements.count <= maximumBatch else {
                let firstID = elements.lazy.compactMap { readableID($0) }.first ?? .null
                return .failure(id: firstID, error: .invalidRequest(
                    "a batch of \(elements.count) entries; at most \(maximumBatch) are allowed", kind: "batch_too_large"))
            }
            return .batch(elements.map(entry))
        default:
            return .single(entry(value))
        }
    }

    /// The id of a message if it has a valid one, for answering even an invalid message.
    static func readableID(_ value: JSONValue) -> JSONRPCID? {
        guard case .object(let object) = value, let id = object["id"] else { return nil }
        switch id {
        case .string(let text): return .string(text)
        case .number(let text): return .number(text)
        case .null: return .null
        default: return nil
        }
    }

    static func entry(_ value: JSONValue) -> JSONRPCEntry {
        guard case .object(let object) = value else {
            return .invalid(id: .null, error: .invalidRequest("expected an object, got \(value.typeName)"))
        }
        var id: JSONRPCID?
        if let rawID = object["id"] {
            guard let readable = readableID(value) else {
                return .invalid(id: .null, error: .invalidRequest("id must be a string, a number or null, not \(rawID.typeName)"))
            }
            id = readable
        }
        let answerID = id ?? .null
        guard object["jsonrpc"] == .string("2.0") else {
            return .invalid(id: answerID, error: .invalidRequest("jsonrpc must be the string \"2.0\""))
        }
        guard case .string(let method)? = object["method"], !method.isEmpty else {
            return .invalid(id: answerID, error: .invalidRequest("method must be a non-empty string"))
        }
        let params: JSONRPCParams
        switch object["params"] {
        case nil: params = .none
        case .array(let values)?: params = .array(values)
        case .object(let members)?: params = .object(members)
        case let other?:
            return .invalid(id: answerID, error: .invalidRequest("params must be an array or an object, not \(other.typeName)"))
        }
        return .request(JSONRPCRequest(id: id, method: method, params: params))
    }
}

/// Answers one line, given a handler for single requests. No sockets, no clocks: the transport
/// feeds lines in and writes out what comes back (nil means write nothing).
public enum JSONRPCResponder {
    public typealias Handler = @Sendable (JSONRPCRequest) async -> Result<JSONValue, JSONRPCError>

    public static func respond(to line: some Collection<UInt8>, maximumBatch: Int = 50, handler: @escaping Handler) async -> [UInt8]? {
        switch JSONRPCDecoder.decode(line, maximumBatch: maximumBatch) {
        case .failure(let id, let error):
            return JSONWriter.bytes(JSONRPCResponse.failure(id: id, error: error))
        case .single(let entry):
            return await answer(entry, handler: handler).map(JSONWriter.bytes)
        case .batch(let entries):
            // Entries run concurrently; answers come back in any order, as the spec allows.
            let answers = await withTaskGroup(of: JSONValue?.self) { group in
                for entry in entries {
                    group.addTask { await answer(entry, handler: handler) }
                }
                var collected: [JSONValue] = []
                for await answer in group {
                    if let answer { collected.append(answer) }
                }
                return collected
            }
            return answers.isEmpty ? nil : JSONWriter.bytes(.array(answers))
        }
    }

    static func answer(_ entry: JSONRPCEntry, handler: Handler) async -> JSONValue? {
        switch entry {
        case .invalid(let id, let error):
            return JSONRPCResponse.failure(id: id, error: error)
        case .request(let request):
            let outcome = await handler(request)
            guard let id = request.id else { return nil }  // notifications are never answered
            switch outcome {
            case .success(let result): return JSONRPCResponse.success(id: id, result: result)
            case .failure(let error): return JSONRPCResponse.failure(id: id, error: error)
            }
        }
    }
}
