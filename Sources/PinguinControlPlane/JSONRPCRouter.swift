public import PinguinWire

/// Maps method names to handlers. Unknown methods answer -32601 with the name.
public struct JSONRPCRouter: Sendable {
    public typealias Method = @Sendable (JSONRPCRequest) async -> Result<JSONValue, JSONRPCError>

    private var methods: [String: Method] = [:]

    public init() {}

    /// Registers `method`; registering a name twice is a programming error.
    public mutating func register(_ name: String, _ method: @escaping Method) {
        precondition(methods[name] == nil, "method \(name) registered twice")
        methods[name] = method
    }

    public var methodNames: [String] { methods.keys.sorted() }

    public func handle(_ request: JSONRPCRequest) async -> Result<JSONValue, JSONRPCError> {
        guard let method = methods[request.method] else { return .failure(.methodNotFound(request.method)) }
        return await method(request)
    }
}
