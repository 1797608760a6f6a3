import Foundation
import PinguinTestSupport
import PinguinWire
import Testing

/// The system's resolvers and the default port, without touching the machine's own: the plugin
/// runs in a network namespace of its own, where `ip netns exec` gives it
/// /etc/netns/NAME/resolv.conf (nameserver 127.0.0.2), and dnsmasq listens on 127.0.0.2:53 only.
/// 127.0.0.2 rather than 127.0.0.1, which is where c-ares goes when it finds no resolv.conf.
@Suite("pinguin-check-dns with the system's resolver", .timeLimit(.minutes(2)))
struct DNSSystemResolverTests {
    @Test("resolver absent or empty: the nameserver of /etc/resolv.conf; a resolver without port: port 53")
    func systemResolverAndDefaultPort() async throws {
        let name = "pinguin-dns-\(UUID().uuidString.prefix(6).lowercased())"
        let etc = "/etc/netns/\(name)"
        var dnsmasq: DNSMasq?
        var plugin: DNSPlugin?
        func cleanUp() async {
            await plugin?.stop()
            await dnsmasq?.stop()
            _ = try? await ChildProcess.run("/usr/sbin/ip", arguments: ["netns", "del", name])
            try? FileManager.default.removeItem(atPath: etc)
        }
        do {
            try FileManager.default.createDirectory(atPath: etc, withIntermediateDirectories: true)
            try "nameserver 127.0.0.2\noptions timeout:1 attempts:1\n".write(toFile: etc + "/resolv.conf", atomically: true, encoding: .utf8)
            try await ChildProcess.ip(["netns", "add", name])
            try await ChildProcess.ip(["netns", "exec", name, "/usr/sbin/ip", "link", "set", "lo", "up"])
            dnsmasq = try await DNSMasq.start(addresses: ["127.0.0.2"], fixedPort: 53, namespace: name)
            let started = try await DNSPlugin.start(wrapper: ["/usr/sbin/ip", "netns", "exec", name])
            plugin = started
            for config in [#"{}"#, #"{"resolver":""}"#] {
                let result = try await started.check("www.pinguin.test", try JSONParser.parse(config).objectValue!)
                #expect(result.status == .up, "\(config): \(result.message)")
                #expect(result.answerValues == ["192.0.2.1"], "\(config)")
                #expect(result.details["resolver"] == .string("system"), "\(config)")
            }
            let defaultPort = try await started.check("www.pinguin.test", try JSONParser.parse(#"{"resolver":"127.0.0.2"}"#).objectValue!)
            #expect(defaultPort.status == .up, "\(defaultPort.message)")
            #expect(defaultPort.answerValues == ["192.0.2.1"])
            #expect(defaultPort.details["resolver"] == .string("127.0.0.2:53"))
            // Nothing answers on 127.0.0.1:53 in there, so the answers above came from resolv.conf's server.
            let elsewhere = try await started.check("www.pinguin.test", try JSONParser.parse(#"{"resolver":"127.0.0.1","timeout_ms":1000}"#).objectValue!)
            #expect(elsewhere.status == .down, "\(elsewhere.message)")
        } catch {
            await cleanUp()
            throw error
        }
        await cleanUp()
    }
}
