import Foundation
import Logging
import NIOCore
import PinguinPluginHost
import PinguinTestSupport
import PinguinWire
import Testing

/// Each built-in checker's docs (proto-docs/checkers/KIND.md) list exactly the config keys its
/// plugin declares in `initialize`: the backticked keys of the `| key |` table against the
/// config_schema's property names. Dotted rows (`tls.server_name`, `steps[].send`) are held to
/// the nested object's properties.
@Suite("checker docs name every config key", .timeLimit(.minutes(1)))
struct CheckerDocsTests {
    struct Failure: Error, CustomStringConvertible { var description: String }

    @Test("config table == config_schema properties", arguments: ["http", "tcp", "dns", "ping"])
    func configTable(kind: String) async throws {
        let schema = try await Self.configSchema(plugin: "pinguin-check-\(kind)", kind: kind)
        let document = TestServices.repositoryRoot.path + "/proto-docs/checkers/\(kind).md"
        let documented = try Self.documentedKeys(try String(contentsOfFile: document, encoding: .utf8))

        // Top level: "tls.server_name" and "steps[].send" name the keys tls and steps.
        let topLevel = Set(documented.map { key in
            let parent = Self.split(key).parent
            return parent.hasSuffix("[]") ? String(parent.dropLast(2)) : parent
        })
        let declared = Set(Self.properties(schema).keys)
        #expect(topLevel == declared, """
            \(kind).md and the config_schema of pinguin-check-\(kind) differ:
              in the docs only: \(topLevel.subtracting(declared).sorted())
              in the schema only: \(declared.subtracting(topLevel).sorted())
            """)

        // Nested: where the docs list a key's members, they must be all of them.
        let nested = Dictionary(grouping: documented.compactMap { key -> (String, String)? in
            let (parent, child) = Self.split(key)
            return child.map { (parent, $0) }
        }, by: \.0).mapValues { Set($0.map(\.1)) }
        for (parent, children) in nested.sorted(by: { $0.key < $1.key }) {
            let name = parent.hasSuffix("[]") ? String(parent.dropLast(2)) : parent
            guard var inner = Self.properties(schema)[name] else { continue }   // already reported above
            if parent.hasSuffix("[]") { inner = inner.objectValue?["items"] ?? .null }
            let members = Set(Self.properties(inner).keys)
            #expect(children == members, """
                \(kind).md and the config_schema of pinguin-check-\(kind) differ under \(parent):
                  in the docs only: \(children.subtracting(members).sorted())
                  in the schema only: \(members.subtracting(children).sorted())
                """)
        }
    }

    /// `tls.server_name` → (tls, server_name); `steps[].send` → (steps[], send); `tls` → (tls, nil).
    static func split(_ key: String) -> (parent: String, child: String?) {
        if let range = key.range(of: "[].") { return (String(key[..<range.lowerBound]) + "[]", String(key[range.upperBound...])) }
        if let dot = key.firstIndex(of: ".") { return (String(key[..<dot]), String(key[key.index(after: dot)...])) }
        return (key, nil)
    }

    /// The backticked words in the first column of the table whose header starts `| key |`.
    static func documentedKeys(_ markdown: String) throws -> [String] {
        let lines = markdown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let header = lines.firstIndex(where: { $0.hasPrefix("| key |") }) else { throw Failure(description: "no `| key |` table") }
        var keys: [String] = []
        for line in lines[(header + 2)...] {
            guard line.hasPrefix("|") else { break }
            let cell = line.dropFirst().prefix { $0 != "|" }
            keys += cell.split(separator: "`", omittingEmptySubsequences: false).enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
        }
        guard !keys.isEmpty else { throw Failure(description: "the `| key |` table names no keys") }
        return keys
    }

    /// A schema's property names with their schemas, including those of anyOf/oneOf/allOf branches.
    static func properties(_ schema: JSONValue) -> [String: JSONValue] {
        guard let object = schema.objectValue else { return [:] }
        var found: [String: JSONValue] = [:]
        if let properties = object["properties"]?.objectValue {
            for (key, value) in zip(properties.keys, properties.values) { found[key] = value }
        }
        for combinator in ["anyOf", "oneOf", "allOf"] {
            for branch in object[combinator]?.arrayValue ?? [] {
                found.merge(properties(branch)) { first, _ in first }
            }
        }
        return found
    }

    /// Starts the built plugin as the supervisor does, reads the kind's config_schema from its
    /// `initialize` answer, and closes it.
    static func configSchema(plugin: String, kind: String) async throws -> JSONValue {
        let path = HTTPPlugin.binaries.appendingPathComponent(plugin).path
        guard FileManager.default.isExecutableFile(atPath: path) else { throw Failure(description: "\(path) is missing: build \(plugin) first") }
        let connection = try await PluginConnection.start(
            SpawnedProcess.Options(path: path, environment: ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PINGUIN_PLUGIN": "1", "PINGUIN_PLUGIN_PROTOCOL_VERSIONS": "1"]),
            name: plugin, logger: Logger(label: "test.docs") { _ in InMemoryLogHandler() })
        let parameters = PluginHandshake.parameters(supervisorName: "test", version: "0", id: "test", location: "here", maximumLineBytes: 1 << 20)
        let answer = await connection.call("initialize", params: parameters, deadline: .now() + .seconds(15))
        _ = await connection.close(grace: .seconds(5))
        guard case .result(let value) = answer else { throw Failure(description: "\(plugin) did not answer initialize: \(answer)") }
        let offered = try PluginHandshake.description(from: value).get()
        guard let entry = offered.kinds.first(where: { $0.kind == kind }) else {
            throw Failure(description: "\(plugin) declares no kind \(kind): \(offered.kinds.map { $0.kind })")
        }
        return entry.configSchema
    }
}
