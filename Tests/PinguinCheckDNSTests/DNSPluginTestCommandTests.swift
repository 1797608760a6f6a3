import Foundation
import PinguinTestSupport
import Testing

/// `pinguinctl plugin test` on the built pinguin-check-dns, with cases against dnsmasq.
@Suite("pinguinctl plugin test pinguin-check-dns", .timeLimit(.minutes(2)))
struct DNSPluginTestCommandTests {
    @Test("passes, with up and down cases against dnsmasq")
    func passes() async throws {
        let ctl = DNSPlugin.binaries.appendingPathComponent("pinguinctl").path
        guard FileManager.default.isExecutableFile(atPath: ctl) else { throw FixtureFailure(description: "\(ctl) is missing: build pinguinctl first") }
        let dnsmasq = try await DNSMasq.start()
        do {
            let config = #"{"resolver":"127.0.0.1","port":\#(dnsmasq.port)}"#
            let run = try await ChildProcess.run(ctl, arguments: [
                "plugin", "test", DNSPlugin.path,
                "--case", "www.pinguin.test", config, "up",
                "--case", "nope.pinguin.test", config, "down",
                "--case", "pinguin.test", #"{"resolver":"127.0.0.1","port":\#(dnsmasq.port),"record_type":"MX","all_of":["10 mail.pinguin.test"]}"#, "up",
            ], environment: ["NO_COLOR": "1"])
            #expect(run.status == 0, "\(run.output)")
            #expect(run.output.contains("ok - initialize answered: pinguin-check-dns 1.0.0, protocol 1, kinds dns"), "\(run.output)")
            #expect(run.output.contains(#"ok - case 2: check.run "nope.pinguin.test" \#(config) answered down (3 times)"#), "\(run.output)")
            #expect(run.output.contains("PASS \(DNSPlugin.path)"), "\(run.output)")
            #expect(!run.output.contains("FAIL"), "\(run.output)")
        } catch {
            await dnsmasq.stop()
            throw error
        }
        await dnsmasq.stop()
    }

    @Test("passes proto-docs/examples/conformance.py too")
    func conformancePy() async throws {
        let dnsmasq = try await DNSMasq.start()
        do {
            let config = #"{"resolver":"127.0.0.1","port":\#(dnsmasq.port)}"#
            let script = TestServices.repositoryRoot.appendingPathComponent("proto-docs/examples/conformance.py").path
            let run = try await ChildProcess.run("/usr/bin/python3", arguments: [
                script, DNSPlugin.path, "--case", "www.pinguin.test", config, "up", "--case", "nope.pinguin.test", config, "down",
            ])
            #expect(run.status == 0, "\(run.output)")
        } catch {
            await dnsmasq.stop()
            throw error
        }
        await dnsmasq.stop()
    }
}
