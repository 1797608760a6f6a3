import Foundation
import PinguinControlPlane
import PinguinPostgres
import PinguinRedis
import PinguinStore
import PinguinTestSupport
import PinguinWire
import Testing

@Suite("OpenRPC document")
struct OpenRPCDocumentTests {
    private var documentPath: String { TestServices.repositoryRoot.appendingPathComponent("proto-docs/openrpc.json").path }

    @Test("the embedded document is proto-docs/openrpc.json (run scripts/gen-openrpc after editing it)")
    func embeddedMatchesProtoDocs() throws {
        let onDisk = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: documentPath))))
        #expect(try JSONParser.parse(OpenRPCDocument.text) == onDisk)
    }

    @Test("the document is valid against the OpenRPC meta-schema")
    func validAgainstMetaSchema() async throws {
        let metaSchema = TestServices.repositoryRoot.deletingLastPathComponent()
            .appendingPathComponent("shared/reference/schemas/openrpc-meta-schema.json").path
        try #require(FileManager.default.fileExists(atPath: metaSchema), "the OpenRPC meta-schema is expected at \(metaSchema)")
        let script = """
            import json, sys, jsonschema
            schema = json.load(open(sys.argv[1]))
            document = json.load(open(sys.argv[2]))
            jsonschema.validate(document, schema)
            names = [m["name"] for m in document["methods"]]
            assert len(names) == len(set(names)), "duplicate method names"
            print("valid", len(names))
            """
        let (status, output) = try await ChildProcess.run("/usr/bin/env", arguments: ["python3", "-c", script, metaSchema, documentPath])
        #expect(status == 0, "\(output)")
        #expect(output.hasPrefix("valid"))
    }

    @Test("a router that serves a method the document lacks is caught")
    func mismatch() throws {
        let document = try JSONParser.parse(OpenRPCDocument.text)
        var router = JSONRPCRouter()
        router.registerDiscovery(document: document)
        #expect(router.mismatch(with: document) != nil)  // system.* missing
        router.register("system.version") { _ in .success(.null) }
        router.register("system.health") { _ in .success(.null) }
        // A client that is never used: the pool connects lazily.
        let unused = PostgresClient(try PostgresConfiguration("host=127.0.0.1 port=1"), logger: TestServices.logger())
        let redis = RedisClient(try RedisConfiguration(url: "redis://127.0.0.1:1"), logger: TestServices.logger())
        let hub = EventHub(redis: try RedisConfiguration(url: "redis://127.0.0.1:1"), logger: TestServices.logger())
        ControlPlaneMethods.register(
            into: &router, postgres: unused, redis: redis, hub: hub, catalogue: PluginCatalogue(redis: redis), logger: TestServices.logger())
        #expect(router.mismatch(with: document) == nil)
        var wrongScope = router
        wrongScope.register("system.secret") { _ in .success(.null) }
        #expect(wrongScope.mismatch(with: document)?.contains("system.secret") == true)
        router.register("system.secret") { _ in .success(.null) }
        #expect(router.mismatch(with: document)?.contains("system.secret") == true)
    }

    @Test("every method refuses callers below its documented scope, and anonymous callers unless it needs none")
    func scopeDenials() async throws {
        let document = try JSONParser.parse(OpenRPCDocument.text)
        var router = JSONRPCRouter()
        router.registerDiscovery(document: document)
        router.register("system.version") { _ in .success(.null) }
        router.register("system.health") { _ in .success(.null) }
        let unused = PostgresClient(try PostgresConfiguration("host=127.0.0.1 port=1"), logger: TestServices.logger())
        let redis = RedisClient(try RedisConfiguration(url: "redis://127.0.0.1:1"), logger: TestServices.logger())
        let hub = EventHub(redis: try RedisConfiguration(url: "redis://127.0.0.1:1"), logger: TestServices.logger())
        ControlPlaneMethods.register(
            into: &router, postgres: unused, redis: redis, hub: hub, catalogue: PluginCatalogue(redis: redis), logger: TestServices.logger())
        let methods = (document.objectValue?["methods"]?.arrayValue ?? []).compactMap(\.objectValue)
        var checked = 0
        for method in methods {
            let name = try #require(method["name"]?.stringValue)
            let scope = method["x-scope"]?.stringValue ?? "none"
            let request = JSONRPCRequest(id: .number("1"), method: name, params: .object(JSONObject()))
            let callers: [TokenScope?] = [nil, .read, .write, .admin]
            for caller in callers {
                let context = RequestContext(connection: ConnectionState(address: "test", actor: "test", scope: caller))
                let allowed = scope == "none" || (caller.map { $0 >= TokenScope(rawValue: scope)! } ?? false)
                if allowed { continue }
                let outcome = await RequestContext.$current.withValue(context) { await router.handle(request) }
                guard case .failure(let error) = outcome else {
                    Issue.record("\(name) answered a caller with scope \(caller?.rawValue ?? "none")")
                    continue
                }
                let expected = caller == nil ? JSONRPCError.unauthenticatedCode : JSONRPCError.forbiddenCode
                #expect(error.code == expected, "\(name) with \(caller?.rawValue ?? "no token"): \(error)")
                checked += 1
            }
        }
        #expect(checked >= methods.count, "every method is refused to somebody, except rpc.discover and auth")
    }
}
