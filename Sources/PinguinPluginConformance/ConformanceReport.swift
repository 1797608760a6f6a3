public import PinguinWire

/// What `pinguinctl plugin test` found: one line per check, in the order they ran, and the
/// plugin's stderr as information.
public struct ConformanceReport: Sendable, Hashable {
    public enum Verdict: String, Sendable, Hashable {
        case ok
        case fail = "FAIL"
        /// Not a check: the plugin's stderr, a step skipped because the plugin is gone.
        case info
    }

    public struct Line: Sendable, Hashable {
        public var verdict: Verdict
        public var text: String

        public init(_ verdict: Verdict, _ text: String) {
            self.verdict = verdict
            self.text = text
        }
    }

    /// The plugin's path, as given.
    public var plugin: String
    public var lines: [Line] = []

    public init(plugin: String) {
        self.plugin = plugin
    }

    public var passed: Bool { !lines.contains { $0.verdict == .fail } }
    public var failures: [Line] { lines.filter { $0.verdict == .fail } }
    public var checks: Int { lines.filter { $0.verdict != .info }.count }

    mutating func ok(_ text: String) { lines.append(Line(.ok, text)) }
    mutating func fail(_ text: String) { lines.append(Line(.fail, text)) }
    mutating func info(_ text: String) { lines.append(Line(.info, text)) }

    /// `ok - …`, `FAIL - …` and `info - …` lines, then `PASS …` or `FAIL …` with the counts.
    public var text: String {
        var output = lines.map { "\($0.verdict.rawValue) - \($0.text)\n" }.joined()
        if passed {
            output += "PASS \(plugin): \(checks) checks\n"
        } else {
            output += "FAIL \(plugin): \(failures.count) of \(checks) checks failed\n"
        }
        return output
    }

    /// `{"plugin", "passed", "checks": [{"verdict", "text"}…]}` for `-o json`.
    public var json: JSONValue {
        .object(JSONObject([
            "plugin": .string(plugin),
            "passed": .bool(passed),
            "failures": .int(failures.count),
            "lines": .array(lines.map { line in
                .object(JSONObject(["verdict": .string(line.verdict.rawValue), "text": .string(line.text)]))
            }),
        ]))
    }
}
