import Foundation
import PinguinControlPlane
import PinguinPostgres
import PinguinStore
import PinguinTestSupport
import PinguinWire
import Testing

/// Calls methods through a router, as the server does, against a migrated database of its own.
struct RouterHarness: Sendable {
    let router: JSONRPCRouter
    let client: PostgresClient

    func call(_ method: String, _ params: String = "{}") async throws -> Result<JSONValue, JSONRPCError> {
        let parsed = try JSONParser.parse(params)
        let request = JSONRPCRequest(id: .number("1"), method: method, params: parsed.objectValue.map { .object($0) } ?? .array(parsed.arrayValue ?? []))
        return await router.handle(request)
    }

    /// The result, which must be an object; an error answer is thrown.
    func ok(_ method: String, _ params: String = "{}") async throws -> JSONObject {
        switch try await call(method, params) {
        case .success(let value): return try #require(value.objectValue)
        case .failure(let error): throw error
        }
    }

    /// The error answer; a success is a test failure.
    func error(_ method: String, _ params: String) async throws -> JSONRPCError {
        switch try await call(method, params) {
        case .success(let value): throw JSONRPCError.internalError("expected an error, got \(JSONWriter.string(value))")
        case .failure(let error): return error
        }
    }

    /// A temporary, migrated database; `register` adds the methods under test.
    static func with<T: Sendable>(
        register: (inout JSONRPCRouter, PostgresClient) -> Void, _ body: (RouterHarness) async throws -> T
    ) async throws -> T {
        try await TemporaryDatabase.with { configuration in
            let client = PostgresClient(configuration, logger: TestServices.logger())
            do {
                try await MigrationRunner(client: client, logger: TestServices.logger()).up()
                var router = JSONRPCRouter()
                register(&router, client)
                let result = try await body(RouterHarness(router: router, client: client))
                await client.close()
                return result
            } catch {
                await client.close()
                throw error
            }
        }
    }
}
