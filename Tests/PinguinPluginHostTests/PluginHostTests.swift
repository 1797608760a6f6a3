import Foundation
@testable import PinguinPluginHost
import PinguinWire
import Testing

@Suite("Plugin host: handshake and answers")
struct PluginHostTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test("the embedded initialize-result schema is the one in proto-docs")
    func schemaMatchesDocument() throws {
        let file = try Data(contentsOf: Self.root.appendingPathComponent("proto-docs/schemas/plugin/initialize-result.json"))
        #expect(try JSONParser.parse(Array(file)) == JSONParser.parse(PluginHandshake.resultSchemaText))
    }

    @Test("a valid initialize result is read; a broken one is refused with the field named")
    func handshake() throws {
        let good = try JSONParser.parse(#"{"protocol_version":1,"plugin":{"name":"p","version":"1"},"kinds":[{"kind":"x","config_schema":{"type":"object"}}],"max_concurrency":4,"capabilities":{"cancel":true}}"#)
        let description = try PluginHandshake.description(from: good).get()
        #expect(description.kinds.map(\.kind) == ["x"])
        #expect(description.maximumConcurrency == 4)
        #expect(description.cancels)
        let cases: [(String, String)] = [
            (#"{"protocol_version":2,"plugin":{"name":"p","version":"1"},"kinds":[{"kind":"x","config_schema":{}}],"max_concurrency":4}"#, "protocol_version 2 was not offered"),
            (#"{"protocol_version":1,"plugin":{"name":"p","version":"1"},"kinds":[],"max_concurrency":4}"#, "kinds"),
            (#"{"protocol_version":1,"plugin":{"name":"p","version":"1"},"kinds":[{"kind":"Bad Kind","config_schema":{}}],"max_concurrency":4}"#, "kind"),
            (#"{"protocol_version":1,"plugin":{"name":"p","version":"1"},"kinds":[{"kind":"x","config_schema":{}},{"kind":"x","config_schema":{}}],"max_concurrency":4}"#, "listed twice"),
            (#"{"protocol_version":1,"plugin":{"name":"p"},"kinds":[{"kind":"x","config_schema":{}}],"max_concurrency":0}"#, "initialize result"),
        ]
        for (text, fragment) in cases {
            guard case .failure(let error) = PluginHandshake.description(from: try JSONParser.parse(text)) else {
                Issue.record("accepted: \(text)")
                continue
            }
            #expect(error.reason.contains(fragment), "\(error.reason)")
        }
    }

    @Test("stdout lines: answers are read, anything else is a protocol violation")
    func answers() {
        func parse(_ text: String) -> Result<PluginAnswer, PluginAnswer.Problem> { PluginAnswer.parse(Array(text.utf8)) }
        if case .success(let answer) = parse(#"{"jsonrpc":"2.0","id":7,"result":{"status":"up"}}"#) {
            #expect(answer.id == 7)
        } else {
            Issue.record("a result was refused")
        }
        if case .success(let answer) = parse(#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}"#) {
            #expect(answer.id == nil)
            #expect(answer.errorMessage == "parse error")
        } else {
            Issue.record("an error with id null was refused")
        }
        for (line, fragment) in [
            ("hello", "not JSON"),
            ("[1]", "not a JSON-RPC response object"),
            (#"{"id":1,"result":{}}"#, "jsonrpc"),
            (#"{"jsonrpc":"2.0","method":"log","params":{}}"#, "no requests or notifications"),
            (#"{"jsonrpc":"2.0","id":"a","result":{}}"#, "integer"),
            (#"{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"x"}}"#, "exactly one"),
            (#"{"jsonrpc":"2.0","id":1,"error":{"code":"x"}}"#, "integer \"code\""),
            (#"{"jsonrpc":"2.0","id":null,"result":{}}"#, "id\": null"),
        ] {
            guard case .failure(let problem) = parse(line) else {
                Issue.record("accepted: \(line)")
                continue
            }
            #expect(problem.description.contains(fragment), "\(problem)")
        }
    }

    @Test("check results are checked field by field")
    func results() throws {
        let good = try PluginCheckResult.parse(JSONParser.parse(
            #"{"status":"degraded","message":"slow","latency_ms":812.5,"phases":{"connect":1.5},"details":{"a":1},"error_kind":"slow_response","metrics":[{"label":"t","value":null}]}"#)).get()
        #expect(good.status == .degraded)
        #expect(good.latencyMilliseconds == 812.5)
        #expect(good.errorKind == "slow_response")
        for (text, fragment) in [
            (#"{"status":"sideways","message":"x"}"#, "result.status"),
            (#"{"status":"up"}"#, "result.message"),
            (#"{"status":"up","message":"x","latency_ms":-1}"#, "result.latency_ms"),
            (#"{"status":"up","message":"x","phases":{"dns":"fast"}}"#, "result.phases.dns"),
            (#"{"status":"up","message":"x","details":[]}"#, "result.details"),
            (#"{"status":"up","message":"x","error_kind":"Not A Word"}"#, "result.error_kind"),
            (#"{"status":"up","message":"x","metrics":[{"value":1}]}"#, "result.metrics[0]"),
            (#"{"status":"up","message":"\#(String(repeating: "m", count: 1025))"}"#, "1025 bytes"),
        ] {
            guard case .failure(let error) = PluginCheckResult.parse(try JSONParser.parse(text)) else {
                Issue.record("accepted: \(text.prefix(80))")
                continue
            }
            #expect(error.description.contains(fragment), "\(error)")
        }
    }
}
