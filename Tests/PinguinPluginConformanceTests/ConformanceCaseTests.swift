import Foundation
@testable import PinguinPluginConformance
import PinguinPluginHost
import PinguinTestSupport
import PinguinWire
import Testing

@Suite("plugin test cases and report")
struct ConformanceCaseTests {
    @Test("a case reads its config as a JSON object and its status as a word or any")
    func parsesCases() throws {
        let item = try ConformanceCase(target: "/etc/hostname", config: #"{"min_bytes":1}"#, status: "up")
        #expect(item.target == "/etc/hostname")
        #expect(item.config["min_bytes"] == .int(1))
        #expect(item.expectedStatus == .up)
        #expect(item.label == #""/etc/hostname" {"min_bytes":1}"#)
        #expect(try ConformanceCase(target: "", config: "{}", status: "any").expectedStatus == nil)
        #expect(throws: ConformanceUsageError.self) { try ConformanceCase(target: "x", config: "[1]", status: "up") }
        #expect(throws: ConformanceUsageError.self) { try ConformanceCase(target: "x", config: "{", status: "up") }
        #expect(throws: ConformanceUsageError.self) { try ConformanceCase(target: "x", config: "{}", status: "sideways") }
    }

    @Test("the report prints a line per check, then PASS or FAIL with the counts; info lines are no checks")
    func rendersReport() {
        var report = ConformanceReport(plugin: "./pinguin-check-x")
        report.ok("ping answered {}")
        report.info("stderr: hello")
        #expect(report.passed)
        #expect(report.text == "ok - ping answered {}\ninfo - stderr: hello\nPASS ./pinguin-check-x: 1 checks\n")
        report.fail("shutdown: no answer within 5 s, expected null")
        #expect(!report.passed)
        #expect(report.text.hasSuffix("FAIL - shutdown: no answer within 5 s, expected null\nFAIL ./pinguin-check-x: 1 of 2 checks failed\n"))
        #expect(report.json.objectValue?["passed"] == .bool(false))
        #expect(report.json.objectValue?["lines"]?.arrayValue?.count == 3)
    }

    @Test("the compiled-in check-run-result schema is proto-docs/schemas/plugin/check-run-result.json")
    func resultSchemaMatchesProtoDocs() throws {
        let file = try Data(contentsOf: TestServices.repositoryRoot.appendingPathComponent("proto-docs/schemas/plugin/check-run-result.json"))
        #expect(try JSONParser.parse(Array(file)) == JSONParser.parse(Array(CheckRunResultSchema.text.utf8)))
    }
}
