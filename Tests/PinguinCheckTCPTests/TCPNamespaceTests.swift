import Foundation
import PinguinPluginHost
import PinguinTestSupport
import PinguinWire
import Testing

/// Name resolution without the internet: the plugin and the TCP fixture run in a network
/// namespace of their own, where `ip netns exec` gives them /etc/netns/NAME/hosts (dual.test is
/// 127.0.0.1 and ::1) and a resolv.conf whose server (127.0.0.1:53) refuses at once.
@Suite("pinguin-check-tcp names", .timeLimit(.minutes(2)))
struct TCPNamespaceTests {
    struct Failure: Error, CustomStringConvertible { var description: String }

    @Test("ip_version picks the family of a name's addresses; a name that does not resolve is dns_*")
    func namesAndFamilies() async throws {
        let name = "pinguin-tcp-\(UUID().uuidString.prefix(6).lowercased())"
        let etc = "/etc/netns/\(name)"
        try FileManager.default.createDirectory(atPath: etc, withIntermediateDirectories: true)
        try "127.0.0.1 localhost dual.test\n::1 dual.test\n".write(toFile: etc + "/hosts", atomically: true, encoding: .utf8)
        try "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n".write(toFile: etc + "/resolv.conf", atomically: true, encoding: .utf8)
        let ready = FileManager.default.temporaryDirectory.appendingPathComponent("\(name).json").path
        var fixture: ChildProcess.Running?
        var plugin: CheckerPluginHarness?
        func cleanUp() async {
            if let fixture { await stopFixture(fixture) }
            await plugin?.close()
            _ = try? await ChildProcess.run("/usr/sbin/ip", arguments: ["netns", "del", name])
            try? FileManager.default.removeItem(atPath: etc)
            unlink(ready)
        }
        do {
            try await ChildProcess.ip(["netns", "add", name])
            try await ChildProcess.ip(["netns", "exec", name, "/usr/sbin/ip", "link", "set", "lo", "up"])
            fixture = try ChildProcess.start("/usr/sbin/ip", arguments: ["netns", "exec", name, "/usr/bin/env", "python3",
                                                                         TestServices.repositoryRoot.path + "/Tests/Fixtures/tcp/tcp_fixture.py", ready])
            var ports: JSONObject?
            for _ in 0..<200 where ports == nil {
                if let data = FileManager.default.contents(atPath: ready) { ports = try JSONParser.parse(Array(data)).objectValue } else { try await Task.sleep(for: .milliseconds(50)) }
            }
            guard let port = ports?["banner6"]?.int64Value else { throw Failure(description: "tcp_fixture.py did not start in \(name)") }
            let started = try await CheckerPluginHarness.start("pinguin-check-tcp", kind: "tcp", wrapper: ["/usr/sbin/ip", "netns", "exec", name])
            plugin = started
            // banner6 listens on ::1 only: IPv6 reaches it, IPv4 finds nothing on that port.
            let v6 = try await started.check("dual.test:\(port)", #"{"ip_version":"ipv6"}"#)
            #expect(v6.status == .up, "\(v6.message)")
            #expect(v6.detail("resolved_address") == .string("::1"))
            #expect(v6.phase("dns") != nil)
            let preferV6 = try await started.check("dual.test:\(port)", #"{"ip_version":"prefer_ipv6"}"#)
            #expect(preferV6.status == .up, "\(preferV6.message)")
            let v4 = try await started.check("dual.test:\(port)", #"{"ip_version":"ipv4"}"#)
            #expect(v4.status == .down)
            #expect(v4.errorKind == "refused")
            #expect(v4.message == "connection to 127.0.0.1:\(port) refused")
            let preferV4 = try await started.check("dual.test:\(port)", #"{"ip_version":"prefer_ipv4"}"#)
            #expect(preferV4.detail("resolved_address") == .string("127.0.0.1"))
            // Not in hosts, and the resolver refuses: a DNS failure, down, never a plugin error.
            let unknown = try await started.check("nowhere.test:80", "{}")
            #expect(unknown.status == .down)
            #expect(unknown.errorKind?.hasPrefix("dns_") == true, "\(unknown.errorKind ?? "nil")")
            #expect(unknown.message.contains("nowhere.test"), "\(unknown.message)")
            #expect(unknown.phase("dns") != nil)
        } catch {
            await cleanUp()
            throw error
        }
        await cleanUp()
    }
}
