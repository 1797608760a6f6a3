import Foundation
import PinguinTestSupport
import Testing

/// The built plugin through proto-docs/examples/conformance.py, the protocol's reference checker
/// in Python (HTTPPluginTestCommandTests runs `pinguinctl plugin test` on it too).
@Suite("pinguin-check-http conformance", .timeLimit(.minutes(2)))
struct HTTPConformanceTests {
    @Test("conformance.py passes with up and down cases against the fixture")
    func conformance() async throws {
        let f = try await HTTPFixture.shared.value
        let script = TestServices.repositoryRoot.path + "/proto-docs/examples/conformance.py"
        let run = try await ChildProcess.run("/usr/bin/python3", arguments: [script, HTTPPlugin.path,
            "--case", "http://127.0.0.1:\(f.plain)/", "{}", "up",
            "--case", "http://127.0.0.1:\(f.plain)/notfound", "{}", "down",
            "--case", "https://localhost:\(f.expiring)/", #"{"ca_file":"\#(f.caFile)"}"#, "degraded"])
        #expect(run.status == 0, "\(run.output)")
    }
}
