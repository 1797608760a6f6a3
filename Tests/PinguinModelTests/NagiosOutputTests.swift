import Foundation
import PinguinModel
import PinguinTestSupport
import Testing

@Suite("Nagios plugin output")
struct NagiosOutputTests {
    @Test("exit statuses map to states; anything but 0 to 3 is unknown", arguments: [
        (Int32(0), CheckStatus.up), (1, .degraded), (2, .down), (3, .unknown), (4, .unknown), (137, .unknown), (-1, .unknown),
    ])
    func states(exit: Int32, status: CheckStatus) {
        #expect(NagiosOutput(exitStatus: exit, output: "X").status == status)
    }

    @Test("the first line is the message, later lines the long text, performance data after | on both")
    func layout() {
        let output = """
            DISK OK - free space: / 3326 MB (56%); | /=2643MB;5948;5958;0;5968
            / 15272 MB (77%);
            /boot 68 MB (69%);
            /home 69357 MB (27%);
            /var/log 819 MB (84%); | /boot=68MB;88;93;0;98
            /home=69357MB;253404;253409;0;253414
            /var/log=818MB;970;975;0;980

            """
        let parsed = NagiosOutput(exitStatus: 0, output: output)
        #expect(parsed.status == .up)
        #expect(parsed.message == "DISK OK - free space: / 3326 MB (56%);")
        #expect(parsed.longText.hasPrefix("/ 15272 MB (77%);") && parsed.longText.hasSuffix("/var/log 819 MB (84%);"))
        #expect(parsed.metrics.map(\.label) == ["/", "/boot", "/home", "/var/log"])
        let root = parsed.metrics[0]
        #expect(root.value == 2643 && root.unit == "MB" && root.warn == "5948" && root.crit == "5958" && root.min == 0 && root.max == 5968)
        #expect(parsed.unparsed.isEmpty)
    }

    @Test("the grammar: quoted labels with spaces and '', U, empty and dropped fields, ranges as written")
    func grammar() {
        let parsed = NagiosOutput(exitStatus: 1, output: "WARNING | 'in bytes'=12B;~:10;@20:30 'it''s'=U 'x'=5;;;0 time=0.048s;0.5;1;; pct=99.5%\n")
        #expect(parsed.message == "WARNING")
        #expect(parsed.metrics.map(\.label) == ["in bytes", "it's", "x", "time", "pct"])
        #expect(parsed.metrics[0].warn == "~:10" && parsed.metrics[0].crit == "@20:30" && parsed.metrics[0].unit == "B")
        #expect(parsed.metrics[1].value == nil)
        #expect(parsed.metrics[2].value == 5 && parsed.metrics[2].warn == nil && parsed.metrics[2].min == 0 && parsed.metrics[2].max == nil)
        #expect(parsed.metrics[3].value == 0.048 && parsed.metrics[3].unit == "s")
        #expect(parsed.metrics[4].unit == "%")
        #expect(parsed.unparsed.isEmpty)
    }

    @Test("what does not parse is reported, not dropped, and does not change the state")
    func malformed() {
        let parsed = NagiosOutput(exitStatus: 0, output: "OK | good=1 =3 bad=abc ok=2;1;2;3;4;5 last=7 'open=2")
        #expect(parsed.status == .up)
        #expect(parsed.metrics.map(\.label) == ["good", "last"])
        #expect(parsed.unparsed.count == 4, "\(parsed.unparsed)")
    }

    @Test("no output, no bar, and output beyond 8 KiB")
    func edges() {
        #expect(NagiosOutput(exitStatus: 2, output: "").message == "")
        let plain = NagiosOutput(exitStatus: 2, output: "CRITICAL - connection refused\n")
        #expect(plain.message == "CRITICAL - connection refused" && plain.metrics.isEmpty && plain.longText == "")
        let huge = NagiosOutput(exitStatus: 0, output: "OK\n" + String(repeating: "x", count: 100_000))
        #expect(huge.longText.utf8.count < NagiosOutput.maximumBytes)
    }

    @Test("real output of Debian's Monitoring Plugins parses completely", arguments: [
        ["check_dummy", "1", "some text"],
        ["check_disk", "-w", "10%", "-c", "5%", "-p", "/"],
        ["check_load", "-w", "50,50,50", "-c", "60,60,60"],
    ])
    func monitoringPlugins(command: [String]) async throws {
        let path = "/usr/lib/nagios/plugins/" + command[0]
        try #require(FileManager.default.isExecutableFile(atPath: path), "\(path) is missing: apt-get install monitoring-plugins-basic (scripts/test does)")
        let (status, output) = try await ChildProcess.run(path, arguments: Array(command.dropFirst()), environment: ["LC_ALL": "C"])
        let parsed = NagiosOutput(exitStatus: status, output: output)
        #expect(!parsed.message.isEmpty)
        #expect(parsed.unparsed.isEmpty, "\(parsed.unparsed)")
        switch command[0] {
        case "check_dummy":
            #expect(parsed.status == .degraded && parsed.message == "WARNING: some text" && parsed.metrics.isEmpty)
        case "check_disk":
            let root = try #require(parsed.metrics.first { $0.label == "/" })
            #expect(root.value != nil && root.min == 0 && root.max != nil && !root.unit.isEmpty, "\(root)")
        default:
            #expect(parsed.metrics.map(\.label) == ["load1", "load5", "load15"], "\(parsed.metrics)")
            #expect(parsed.metrics.allSatisfy { $0.warn == "50.000" && $0.crit == "60.000" && $0.min == 0 })
        }
    }
}

