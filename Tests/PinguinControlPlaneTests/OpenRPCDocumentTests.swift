import Foundation
import PinguinControlPlane
import PinguinPostgres
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
        MonitorMethods.register(into: &router, store: MonitorStore(client: unused), actor: { "nobody" })
        ResultMethods.register(into: &router, storage: PartitionedResultStorage(client: unused, logger: TestServices.logger()))
        AuthMethods.register(into: &router, tokens: TokenStore(client: unused), throttle: AuthThrottle())
        #expect(router.mismatch(with: document) == nil)
        var wrongScope = router
        wrongScope.register("system.secret") { _ in .success(.null) }
        #expect(wrongScope.mismatch(with: document)?.contains("system.secret") == true)
        router.register("system.secret") { _ in .success(.null) }
        #expect(router.mismatch(with: document)?.contains("system.secret") == true)
    }
}
