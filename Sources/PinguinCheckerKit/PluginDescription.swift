import PinguinWire

/// What a plugin announces, checked and precomputed once at start.
struct PluginDescription: Sendable {
    struct Problem: Error, CustomStringConvertible {
        var description: String
    }

    let name: String
    let version: String
    let maxConcurrency: Int
    let kinds: [CheckerKind]
    /// Config schemas by kind, for filling in defaults.
    let configSchemas: [String: JSONSchema]
    let initializeResult: JSONValue

    init(name: String, version: String, maxConcurrency: Int, kinds: [CheckerKind]) throws(Problem) {
        guard !name.isEmpty, !version.isEmpty else { throw Problem(description: "the plugin's name and version must not be empty") }
        guard (1...100_000).contains(maxConcurrency) else { throw Problem(description: "max_concurrency must be 1…100000, not \(maxConcurrency)") }
        guard !kinds.isEmpty else { throw Problem(description: "a plugin declares at least one kind") }
        var schemas: [String: JSONSchema] = [:]
        var kindValues: [JSONValue] = []
        for kind in kinds {
            guard Self.isKindName(kind.kind) else { throw Problem(description: "kind \"\(kind.kind)\" is not a valid kind name (^[a-z0-9][a-z0-9_-]{0,62}$)") }
            guard schemas[kind.kind] == nil else { throw Problem(description: "kind \"\(kind.kind)\" is declared twice") }
            guard case .object = kind.configSchema else { throw Problem(description: "kind \(kind.kind): config_schema must be an object") }
            do {
                schemas[kind.kind] = try JSONSchema(kind.configSchema)
                if let target = kind.targetSchema {
                    guard case .object = target else { throw Problem(description: "kind \(kind.kind): target_schema must be an object") }
                    _ = try JSONSchema(target)
                }
            } catch let error as JSONSchemaError {
                throw Problem(description: "kind \(kind.kind): \(error.description)")
            } catch {
                throw error as! Problem
            }
            var object = JSONObject()
            object.append("kind", .string(kind.kind))
            object.append("description", .string(kind.description))
            object.append("config_schema", kind.configSchema)
            if let target = kind.targetSchema { object.append("target_schema", target) }
            kindValues.append(.object(object))
        }
        self.name = name
        self.version = version
        self.maxConcurrency = maxConcurrency
        self.kinds = kinds
        configSchemas = schemas
        var result = JSONObject()
        result.append("protocol_version", .int(1))
        result.append("plugin", .object(JSONObject(["name": .string(name), "version": .string(version)])))
        result.append("kinds", .array(kindValues))
        result.append("max_concurrency", .int(maxConcurrency))
        result.append("capabilities", .object(JSONObject(["cancel": .bool(true)])))
        initializeResult = .object(result)
    }

    static func isKindName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...63).contains(bytes.count) else { return false }
        func allowed(_ byte: UInt8) -> Bool { (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte) }
        return allowed(bytes[0]) && bytes.dropFirst().allSatisfy { allowed($0) || $0 == 0x5F || $0 == 0x2D }
    }
}
