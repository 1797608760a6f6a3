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

    /// Registers `rpc.discover`, answering with `document` (an OpenRPC document).
    public mutating func registerDiscovery(document: JSONValue) {
        register("rpc.discover") { _ in .success(document) }
    }

    /// Methods the document lists but the router lacks, and the other way round; nil when equal.
    public func mismatch(with document: JSONValue) -> String? {
        let listed = Set((document.objectValue?["methods"]?.arrayValue ?? []).compactMap { $0.objectValue?["name"]?.stringValue })
        let served = Set(methods.keys)
        guard listed != served else { return nil }
        return "documented but not served: \(listed.subtracting(served).sorted()); served but not documented: \(served.subtracting(listed).sorted())"
    }

    public func handle(_ request: JSONRPCRequest) async -> Result<JSONValue, JSONRPCError> {
        guard let method = methods[request.method] else { return .failure(.methodNotFound(request.method)) }
        return await method(request)
    }
}
