import Foundation
import PinguinTestSupport
import Testing

/// `pinguinctl plugin test` on the built pinguin-check-http, with cases against the nginx fixture.
@Suite("pinguinctl plugin test pinguin-check-http", .timeLimit(.minutes(2)))
struct HTTPPluginTestCommandTests {
    static let ctl = HTTPPlugin.binaries.appendingPathComponent("pinguinctl").path

    /// `pinguinctl plugin test pinguin-check-http --case …` for each case, stdout and stderr together.
    func pluginTest(_ cases: [(target: String, config: String, status: String)]) async throws -> (status: Int32, output: String) {
        // Missing binaries fail the test: a skipped check here would hide a broken build.
        guard FileManager.default.isExecutableFile(atPath: Self.ctl) else { throw HTTPPlugin.Failure(description: "\(Self.ctl) is missing: build pinguinctl first") }
        guard FileManager.default.isExecutableFile(atPath: HTTPPlugin.path) else { throw HTTPPlugin.Failure(description: "\(HTTPPlugin.path) is missing: build pinguin-check-http first") }
        return try await ChildProcess.run(Self.ctl, arguments: ["plugin", "test", HTTPPlugin.path] + cases.flatMap { ["--case", $0.target, $0.config, $0.status] },
                                          environment: ["NO_COLOR": "1"])
    }

    @Test("passes, with up, down and degraded cases")
    func passes() async throws {
        let f = try await HTTPFixture.shared.value
        let up = "http://127.0.0.1:\(f.plain)/", notFound = "http://127.0.0.1:\(f.plain)/notfound"
        let run = try await pluginTest([
            (up, #"{"expect_body":{"contains":"hello pinguin"}}"#, "up"),
            (notFound, "{}", "down"),
            ("http://127.0.0.1:1/", "{}", "down"),
            ("https://localhost:\(f.expiring)/", #"{"ca_file":"\#(f.caFile)"}"#, "degraded"),
        ])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("ok - initialize answered: pinguin-check-http 1.0.0, protocol 1, kinds http"), "\(run.output)")
        #expect(run.output.contains(#"ok - case 1: check.run "\#(up)" {"expect_body":{"contains":"hello pinguin"}} answered up (3 times)"#), "\(run.output)")
        #expect(run.output.contains(#"ok - case 2: check.run "\#(notFound)" {} answered down (3 times)"#), "\(run.output)")
        #expect(run.output.contains(#"ok - case 3: check.run "http://127.0.0.1:1/" {} answered down (3 times)"#), "\(run.output)")
        #expect(run.output.contains("ok - case 4: check.run") && run.output.contains("answered degraded (3 times)"), "\(run.output)")
        #expect(run.output.contains("ok - 12 check.run answers matched by id"), "\(run.output)")
        #expect(run.output.hasSuffix("PASS \(HTTPPlugin.path): \(run.output.split(separator: "\n").filter { $0.hasPrefix("ok - ") }.count) checks\n"), "\(run.output)")
        #expect(!run.output.contains("FAIL"), "\(run.output)")
    }

    @Test("fails on a case whose status is wrong")
    func wrongStatus() async throws {
        let f = try await HTTPFixture.shared.value
        let notFound = "http://127.0.0.1:\(f.plain)/notfound"
        let run = try await pluginTest([(notFound, "{}", "up")])
        #expect(run.status == 1, "\(run.output)")
        #expect(run.output.contains(#"FAIL - case 1: check.run "\#(notFound)" {}"#) && run.output.contains("down"), "\(run.output)")
        #expect(run.output.contains("FAIL \(HTTPPlugin.path): 1 of "), "\(run.output)")
    }

    @Test("a config error fails the run: the plugin's -32602 for a bad regex, the schema's refusal of an unknown method")
    func configError() async throws {
        let f = try await HTTPFixture.shared.value
        let up = "http://127.0.0.1:\(f.plain)/"
        let badRegex = try await pluginTest([(up, "{}", "up"), (up, #"{"expect_body":{"regex":"(unclosed"}}"#, "down")])
        #expect(badRegex.status == 1, "\(badRegex.output)")
        #expect(badRegex.output.contains(#"ok - case 1: check.run "\#(up)" {} answered up (3 times)"#), "\(badRegex.output)")
        #expect(badRegex.output.contains(#"FAIL - case 2: check.run "\#(up)" {"expect_body":{"regex":"(unclosed"}}: answered error -32602 (config.expect_body.regex is not a valid regular expression"#),
                "\(badRegex.output)")
        #expect(badRegex.output.contains("instead of a result: the supervisor records unknown (3 of 3)"), "\(badRegex.output)")
        #expect(badRegex.output.contains("FAIL \(HTTPPlugin.path): 1 of "), "\(badRegex.output)")

        let trace = try await pluginTest([(up, #"{"method":"TRACE"}"#, "up")])
        #expect(trace.status == 1, "\(trace.output)")
        #expect(trace.output.contains(#"FAIL - case 1 "\#(up)" {"method":"TRACE"}: "#) && trace.output.contains("the kind's config_schema refuses this config, so no monitor could have it"),
                "\(trace.output)")
    }
}
