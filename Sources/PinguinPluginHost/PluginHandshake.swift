public import Foundation
public import PinguinWire

/// The `initialize` exchange (proto-docs/plugin-protocol.md, "initialize"): what the supervisor
/// offers and what a plugin says about itself.
public enum PluginHandshake {
    /// The protocol versions this side speaks.
    public static let protocolVersions = [1]

    /// `initialize` params.
    public static func parameters(supervisorName: String, version: String, id: String, location: String, maximumLineBytes: Int) -> JSONValue {
        .object(JSONObject([
            "protocol_versions": .array(protocolVersions.map { .int($0) }),
            "supervisor": .object(JSONObject([
                "name": .string(supervisorName), "version": .string(version), "id": .string(id), "location": .string(location),
            ])),
            "limits": .object(JSONObject(["max_line_bytes": .int(maximumLineBytes)])),
        ]))
    }

    /// The schema of the plugin's answer, the same as proto-docs/schemas/plugin/initialize-result.json
    /// (a test holds the two equal).
    public static let resultSchemaText = #"""
{"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"https://pinguin.invalid/schemas/plugin/initialize-result.json","title":"initialize: result (plugin to supervisor)","type":"object","required":["protocol_version","plugin","kinds","max_concurrency"],"properties":{"protocol_version":{"type":"integer","minimum":1,"description":"One of the offered versions."},"plugin":{"type":"object","required":["name","version"],"properties":{"name":{"type":"string","minLength":1},"version":{"type":"string","minLength":1}}},"kinds":{"type":"array","minItems":1,"items":{"type":"object","required":["kind","config_schema"],"properties":{"kind":{"type":"string","pattern":"^[a-z0-9][a-z0-9_-]{0,62}$"},"description":{"type":"string"},"config_schema":{"type":"object","description":"JSON Schema (2020-12, the subset in Sources/PinguinWire/JSONSchema.swift) for monitor.config."},"target_schema":{"type":"object","description":"Optional JSON Schema for monitor.target (a string)."}},"additionalProperties":false}},"max_concurrency":{"type":"integer","minimum":1,"maximum":100000,"description":"Most check.run requests this process takes at once."},"capabilities":{"type":"object","properties":{"cancel":{"type":"boolean","description":"The plugin acts on check.cancel."}}}}}
"""#

    private static let resultSchema: JSONSchema = {
        // The text is a constant that a test validates; failing here is a build defect.
        try! JSONSchema(try! JSONParser.parse(resultSchemaText))
    }()

    /// Reads a plugin's `initialize` result; the error says what is wrong and where.
    public static func description(from value: JSONValue) -> Result<PluginDescription, PluginHandshakeError> {
        let violations = resultSchema.validate(value, at: "result")
        if let first = violations.first {
            return .failure(PluginHandshakeError(reason: "initialize result: \(first.message)" + (violations.count > 1 ? " (and \(violations.count - 1) more)" : "")))
        }
        let object = value.objectValue!
        let version = Int(object["protocol_version"]!.int64Value!)
        guard protocolVersions.contains(version) else {
            return .failure(PluginHandshakeError(reason: "initialize result: protocol_version \(version) was not offered (offered: \(protocolVersions.map(String.init).joined(separator: ", ")))"))
        }
        let plugin = object["plugin"]!.objectValue!
        var kinds: [PluginDescription.Kind] = []
        var seen = Set<String>()
        for entry in object["kinds"]!.arrayValue! {
            let kind = entry.objectValue!
            let name = kind["kind"]!.stringValue!
            guard seen.insert(name).inserted else {
                return .failure(PluginHandshakeError(reason: "initialize result: kind \"\(name)\" is listed twice"))
            }
            kinds.append(PluginDescription.Kind(
                kind: name, description: kind["description"]?.stringValue ?? "",
                configSchema: kind["config_schema"]!, targetSchema: kind["target_schema"]))
        }
        return .success(PluginDescription(
            protocolVersion: version, name: plugin["name"]!.stringValue!, version: plugin["version"]!.stringValue!,
            kinds: kinds, maximumConcurrency: Int(object["max_concurrency"]!.int64Value!),
            cancels: object["capabilities"]?.objectValue?["cancel"]?.boolValue ?? false))
    }
}

/// What a plugin said about itself in its `initialize` answer.
public struct PluginDescription: Sendable, Hashable {
    public struct Kind: Sendable, Hashable {
        public var kind: String
        public var description: String
        public var configSchema: JSONValue
        public var targetSchema: JSONValue?
    }

    public var protocolVersion: Int
    public var name: String
    public var version: String
    public var kinds: [Kind]
    public var maximumConcurrency: Int
    public var cancels: Bool

    /// The plugin's entry in a supervisor registration (proto-docs/redis.md).
    public func registration(state: String) -> JSONObject {
        var object = JSONObject()
        object.append("name", .string(name))
        object.append("version", .string(version))
        object.append("protocol", .string(String(protocolVersion)))
        object.append("state", .string(state))
        object.append("max_concurrency", .int(maximumConcurrency))
        object.append("kinds", .array(state == "failed" ? [] : kinds.map { kind in
            var entry = JSONObject()
            entry.append("kind", .string(kind.kind))
            entry.append("description", .string(kind.description))
            entry.append("config_schema", kind.configSchema)
            if let target = kind.targetSchema { entry.append("target_schema", target) }
            return .object(entry)
        }))
        return object
    }
}

public struct PluginHandshakeError: Error, Sendable, Hashable, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
}
