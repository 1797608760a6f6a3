import Foundation
import PinguinTestSupport
import PinguinWire
import Testing

/// The example plugins of proto-docs (Python and shell) as real monitors: one pinguind with every
/// role, the examples as its plugin folders, monitors created over JSON-RPC with pinguinctl, and
/// results read back from PostgreSQL through result.list.
@Suite("Example plugins end to end", .enabled(if: TestServices.postgresEnabled && TestServices.redisEnabled, Comment(rawValue: TestServices.skipReason)),
       .timeLimit(.minutes(2)))
struct ExamplePluginsEndToEndTests {
    @Test("the Python and shell examples run as monitors through the whole pipeline")
    func examples() async throws {
        let examples = TestServices.repositoryRoot.appendingPathComponent("proto-docs/examples")
        try await PinguindProcess.with(pluginDirectories: ["python", "shell"].map { examples.appendingPathComponent($0).path }) { pinguind in
            try await run(pinguind)
        }
    }

    private func run(_ pinguind: PinguindProcess) async throws {
        // Both plugins registered: kinds file and path are offered.
        let kinds = try await pinguind.waitForKinds(["file", "path"])
        #expect(kinds.isSuperset(of: ["file", "path", "nagios"]), "\(kinds)")
        // With a supervisor live, configs are validated against the plugin's own schema.
        let refused = try await pinguind.call("monitor.create", #"{"name":"bad","kind":"file","target":"/etc/hostname","config":{"min_bytes":"many"}}"#)
        #expect(refused.status != 0 && refused.output.contains("config.min_bytes"), "\(refused.output)")

        let present = try await pinguind.createMonitor(#"{"name":"hostname","kind":"file","target":"/etc/hostname","interval_ms":2000,"timeout_ms":1900}"#)
        let missing = try await pinguind.createMonitor(#"{"name":"missing","kind":"file","target":"/nonexistent/pinguin","interval_ms":2000,"timeout_ms":1900}"#)
        let directory = try await pinguind.createMonitor(#"{"name":"root","kind":"path","target":"/","config":{"type":"directory"},"interval_ms":2000,"timeout_ms":1900}"#)
        let notDirectory = try await pinguind.createMonitor(#"{"name":"hosts","kind":"path","target":"/etc/hosts","config":{"type":"directory"},"interval_ms":2000,"timeout_ms":1900}"#)

        func statuses(_ id: Int64) async throws -> [String] {
            try await pinguind.results(id).compactMap { $0["status"]?.stringValue }
        }
        // Each monitor gets at least two results of its status and never the opposite one. On a
        // loaded machine a slot may honestly be unknown (plugin timeout) or skipped, never wrong.
        let expected: [(Int64, String, String)] = [(present, "up", "down"), (missing, "down", "up"), (directory, "up", "down"), (notDirectory, "down", "up")]
        var seen: [Int64: [String]] = [:]
        for _ in 0..<600 {
            for (id, _, _) in expected { seen[id] = try await statuses(id) }
            if expected.allSatisfy({ id, status, _ in (seen[id] ?? []).filter { $0 == status }.count >= 2 }) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        for (id, status, opposite) in expected {
            let statuses = seen[id] ?? []
            #expect(statuses.filter { $0 == status }.count >= 2 && !statuses.contains(opposite), "monitor \(id): \(seen)")
            #expect(statuses.allSatisfy { [status, "unknown", "skipped"].contains($0) }, "monitor \(id): \(seen)")
        }

        // monitor.run waits for a fresh result from the plugin.
        let ran = try await pinguind.call("monitor.run", #"{"id":\#(present),"wait":true,"timeout_ms":5000}"#)
        #expect(ran.value?.objectValue?["result"]?.objectValue?["status"]?.stringValue == "up", "\(ran.output)")
    }
}
