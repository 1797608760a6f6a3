public import PinguinStore
public import PinguinWire

/// Maps method names to handlers. Unknown methods answer -32601 with the name.
public struct JSONRPCRouter: Sendable {
    public typealias Method = @Sendable (JSONRPCRequest) async -> Result<JSONValue, JSONRPCError>

    private var methods: [String: (scope: TokenScope?, method: Method)] = [:]

    private let defaultScope: TokenScope?

    /// `defaultScope` is what ``register(_:_:)`` without a scope requires. Default: read.
    public init(defaultScope: TokenScope? = .read) {
        self.defaultScope = defaultScope
    }

    /// Registers `method`, callable with at least `scope` (nil: also before authentication).
    /// Registering a name twice is a programming error.
    public mutating func register(_ name: String, scope: TokenScope?, _ method: @escaping Method) {
        precondition(methods[name] == nil, "method \(name) registered twice")
        methods[name] = (scope, method)
    }

    /// Registers `method` with the router's default scope.
    public mutating func register(_ name: String, _ method: @escaping Method) {
        register(name, scope: defaultScope, method)
    }

    /// The scope a method needs; nil if it needs none (or does not exist).
    public func requiredScope(_ name: String) -> TokenScope? {
        methods[name]?.scope
    }

    public var methodNames: [String] { methods.keys.sorted() }

    /// Registers `rpc.discover`, answering with `document` (an OpenRPC document).
    public mutating func registerDiscovery(document: JSONValue) {
        register("rpc.discover", scope: nil) { _ in .success(document) }
    }

    /// Methods the document lists but the router lacks, the other way round, or whose documented
    /// scope (`x-scope`) differs from the one enforced; nil when all agree.
    public func mismatch(with document: JSONValue) -> String? {
        let entries = (document.objectValue?["methods"]?.arrayValue ?? []).compactMap(\.objectValue)
        let listed = Set(entries.compactMap { $0["name"]?.stringValue })
        let served = Set(methods.keys)
        guard listed == served else {
            return "documented but not served: \(listed.subtracting(served).sorted()); served but not documented: \(served.subtracting(listed).sorted())"
        }
        for entry in entries {
            guard let name = entry["name"]?.stringValue else { continue }
            let documented = entry["x-scope"]?.stringValue ?? "none"
            let enforced = methods[name]?.scope?.rawValue ?? "none"
            if documented != enforced { return "\(name): documented scope \(documented), enforced \(enforced)" }
        }
        return nil
    }

    /// Calls the method if the connection's scope allows it.
    public func handle(_ request: JSONRPCRequest) async -> Result<JSONValue, JSONRPCError> {
        guard let entry = methods[request.method] else { return .failure(.methodNotFound(request.method)) }
        if let required = entry.scope {
            guard let scope = RequestContext.current.connection.scope else { return .failure(.unauthenticated) }
            guard scope >= required else { return .failure(.forbidden(request.method, needs: required)) }
        }
        return await entry.method(request)
    }
}

extension JSONRPCError {
    /// -32001: the connection has not authenticated (TCP: call `auth` first).
    public static let unauthenticatedCode = -32001
    /// -32003: authenticated, but the token's scope does not allow the method.
    public static let forbiddenCode = -32003
    /// -32010: Redis, which the method needs, cannot be reached; retry later.
    public static let unavailableCode = -32010
    /// -32029: too many failed `auth` attempts from this address; wait and retry.
    public static let rateLimitedCode = -32029

    public static let unauthenticated = JSONRPCError(
        code: unauthenticatedCode, message: "not authenticated: call auth with a token first", kind: "unauthenticated")

    public static func unavailable(_ message: String) -> JSONRPCError {
        JSONRPCError(code: unavailableCode, message: message, kind: "unavailable")
    }

    public static func forbidden(_ method: String, needs scope: TokenScope) -> JSONRPCError {
        JSONRPCError(code: forbiddenCode, message: "\(method) needs a token with scope \(scope.rawValue) or above", kind: "forbidden",
                     details: JSONObject(["required_scope": .string(scope.rawValue)]))
    }
}
