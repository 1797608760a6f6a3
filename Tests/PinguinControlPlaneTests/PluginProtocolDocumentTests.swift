import Foundation
import PinguinTestSupport
import Testing

/// proto-docs/plugin-protocol.md: its JSON Schemas are valid 2020-12 schemas, and every example
/// marked `<!-- schema: NAME -->` is valid against the schema it names (Python's jsonschema).
@Suite("Plugin protocol document")
struct PluginProtocolDocumentTests {
    @Test("every example in plugin-protocol.md is valid against its JSON Schema")
    func examples() async throws {
        let root = TestServices.repositoryRoot.path
        let script = """
            import json, re, sys, pathlib
            from jsonschema import Draft202012Validator, FormatChecker
            root = pathlib.Path(sys.argv[1])
            schemas = {}
            for path in sorted((root / "proto-docs/schemas/plugin").glob("*.json")):
                schema = json.loads(path.read_text())
                Draft202012Validator.check_schema(schema)
                schemas[path.stem] = schema
            text = (root / "proto-docs/plugin-protocol.md").read_text()
            blocks = re.findall(r"<!-- schema: ([a-z-]+) -->\\s*```json\\n(.*?)\\n```", text, re.S)
            assert len(blocks) >= 7, f"only {len(blocks)} examples found"
            checked = 0
            for name, body in blocks:
                value = json.loads(body)
                if name == "none":
                    continue
                errors = sorted(Draft202012Validator(schemas[name], format_checker=FormatChecker()).iter_errors(value), key=str)
                assert not errors, f"{name}: {errors[0].message}"
                checked += 1
                if name == "initialize-result":
                    for kind in value["kinds"]:
                        Draft202012Validator.check_schema(kind["config_schema"])
            # A wrong example must fail: the check can fail.
            bad = {"status": "sideways", "message": "x"}
            assert list(Draft202012Validator(schemas["check-run-result"]).iter_errors(bad)), "a bad status passed"
            print("valid", checked)
            """
        let (status, output) = try await ChildProcess.run("/usr/bin/env", arguments: ["python3", "-c", script, root])
        #expect(status == 0, "\(output)")
        #expect(output.hasPrefix("valid"), "\(output)")
    }

    @Test("the example plugins in Python and shell pass the conformance checks; a plugin that prints junk fails them")
    func examplePlugins() async throws {
        let examples = TestServices.repositoryRoot.appendingPathComponent("proto-docs/examples").path
        let conformance = examples + "/conformance.py"
        let python = try await ChildProcess.run("/usr/bin/env", arguments: [
            "python3", conformance, examples + "/python/pinguin-check-file",
            "--case", "/etc/hostname", "{}", "up", "--case", "/nonexistent", "{}", "down",
            "--case", "/etc/hostname", #"{"min_bytes":100000000}"#, "down",
        ])
        #expect(python.status == 0 && python.output.contains("PASS"), "\(python.output)")
        let shell = try await ChildProcess.run("/usr/bin/env", arguments: [
            "python3", conformance, examples + "/shell/pinguin-check-path",
            "--case", "/etc", #"{"type":"directory"}"#, "up", "--case", "/etc", #"{"type":"file"}"#, "down",
            "--case", "/nonexistent", "{}", "down",
        ])
        #expect(shell.status == 0 && shell.output.contains("PASS"), "\(shell.output)")
        // The checks can fail: a "plugin" that greets on stdout is caught.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pinguin-badplugin-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let bad = folder + "/pinguin-check-bad"
        try "#!/bin/sh\necho hello\ncat >/dev/null\n".write(toFile: bad, atomically: true, encoding: .utf8)
        chmod(bad, 0o755)
        let junk = try await ChildProcess.run("/usr/bin/env", arguments: ["python3", conformance, bad, "--case", "/", "{}", "up"])
        #expect(junk.status == 1 && junk.output.contains("not JSON"), "\(junk.output)")
    }
}

