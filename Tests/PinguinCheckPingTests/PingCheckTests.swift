import Foundation
import PinguinPluginHost
import PinguinTestSupport
import PinguinWire
import Testing

/// The built pinguin-check-ping, through the plugin protocol: loopback, and hosts in network
/// namespaces the tests make, with loss made by nftables and replies delayed by a responder.
@Suite("pinguin-check-ping", .timeLimit(.minutes(2)))
struct PingCheckTests {
    func withPlugin(wrapper: [String] = [], _ body: (CheckerPluginHarness) async throws -> Void) async throws {
        let plugin = try await CheckerPluginHarness.start("pinguin-check-ping", kind: "ping", wrapper: wrapper)
        do {
            try await body(plugin)
        } catch {
            await plugin.close()
            throw error
        }
        await plugin.close()
    }

    @Test("127.0.0.1 and ::1 answer: counts, rtts, jitter and metrics; no DNS for an address")
    func loopback() async throws {
        try await withPlugin { plugin in
            let v4 = try await plugin.check("127.0.0.1", #"{"count":4,"interval_ms":20}"#)
            #expect(v4.status == .up)
            #expect(v4.errorKind == nil)
            #expect(v4.message.hasPrefix("4/4 replies from 127.0.0.1, 0% loss, rtt min/avg/max "), "\(v4.message)")
            #expect(v4.detail("sent") == .int(4))
            #expect(v4.detail("received") == .int(4))
            #expect(v4.detail("loss_percent") == .int(0))
            #expect(v4.detail("rtts_ms")?.arrayValue?.count == 4)
            #expect(v4.detail("jitter_ms")?.doubleValue != nil)
            #expect(v4.detail("address_family") == .string("ipv4"))
            #expect(v4.phase("dns") == nil)
            // interval_ms: four requests 20 ms apart take at least 60 ms.
            #expect((v4.phase("echo") ?? 0) >= 60)
            #expect(v4.metrics.map { $0.objectValue?["label"]?.stringValue } == ["rta", "pl", "rtmin", "rtmax", "jitter"])
            let v6 = try await plugin.check("::1", #"{"count":2,"interval_ms":20}"#)
            #expect(v6.status == .up)
            #expect(v6.message.hasPrefix("2/2 replies from ::1, 0% loss"), "\(v6.message)")
            #expect(v6.detail("address_family") == .string("ipv6"))
            // A name is resolved (dns phase); ip_version picks the family.
            let named = try await plugin.check("localhost", #"{"count":1,"ip_version":"ipv4"}"#)
            #expect(named.status == .up)
            #expect(named.detail("address") == .string("127.0.0.1"))
            #expect(named.phase("dns") != nil)
            let mismatch = try await plugin.checkError("::1", #"{"ip_version":"ipv4"}"#)
            #expect(mismatch.message == "ip_version is ipv4 but the target is an IPv6 address")
        }
    }

    @Test("a host in a namespace answers over IPv4 and IPv6; an address nobody has is down (no_reply)")
    func namespaceHosts() async throws {
        try await withNamespace { namespace in
            try await withPlugin { plugin in
                let v4 = try await plugin.check(namespace.address, #"{"count":3,"interval_ms":20}"#)
                #expect(v4.status == .up, "\(v4.message)")
                #expect(v4.message.hasPrefix("3/3 replies from \(namespace.address), 0% loss"), "\(v4.message)")
                let v6 = try await plugin.check(namespace.address6, #"{"count":3,"interval_ms":20}"#)
                #expect(v6.status == .up, "\(v6.message)")
                let silent = try await plugin.check(namespace.silentAddress, #"{"count":3,"interval_ms":20,"timeout_ms":300}"#)
                #expect(silent.status == .down)
                #expect(silent.errorKind == "no_reply")
                #expect(silent.message == "no reply from \(namespace.silentAddress): 3 sent, 0 received, 100% loss")
                #expect(silent.detail("rtts_ms") == .array([.null, .null, .null]))
                let silent6 = try await plugin.check(namespace.silentAddress6, #"{"count":2,"interval_ms":20,"timeout_ms":300}"#)
                #expect(silent6.status == .down)
                #expect(silent6.errorKind == "no_reply")
            }
        }
    }

    @Test("every-Nth drops (numgen inc): exactly half lost; loss thresholds make it degraded or down")
    func everyNthLoss() async throws {
        try await withNamespace { namespace in
            try await namespace.nft("chain input { type filter hook input priority 0; icmp type echo-request numgen inc mod 2 == 0 drop; }")
            try await withPlugin { plugin in
                let config = #"{"count":10,"interval_ms":10,"timeout_ms":300%@}"#
                let plain = try await plugin.check(namespace.address, config.replacingOccurrences(of: "%@", with: ""))
                #expect(plain.status == .up)
                #expect(plain.detail("sent") == .int(10))
                #expect(plain.detail("received") == .int(5))
                #expect(plain.detail("loss_percent") == .int(50))
                #expect(plain.message.hasPrefix("5/10 replies from \(namespace.address), 50% loss"), "\(plain.message)")
                let degraded = try await plugin.check(namespace.address, config.replacingOccurrences(of: "%@", with: #","degraded_loss_percent":20,"down_loss_percent":80"#))
                #expect(degraded.status == .degraded)
                #expect(degraded.errorKind == "packet_loss")
                #expect(degraded.message.hasSuffix("; loss at least degraded_loss_percent 20"), "\(degraded.message)")
                let down = try await plugin.check(namespace.address, config.replacingOccurrences(of: "%@", with: #","degraded_loss_percent":20,"down_loss_percent":50"#))
                #expect(down.status == .down)
                #expect(down.errorKind == "packet_loss")
                #expect(down.message.hasSuffix("; loss at least down_loss_percent 50"), "\(down.message)")
            }
        }
    }

    @Test("random drops (numgen random): some but not all lost")
    func randomLoss() async throws {
        try await withNamespace { namespace in
            try await namespace.nft("chain input { type filter hook input priority 0; icmp type echo-request numgen random mod 100 < 50 drop; }")
            try await withPlugin { plugin in
                let result = try await plugin.check(namespace.address, #"{"count":30,"interval_ms":10,"timeout_ms":300}"#)
                let received = result.detail("received")?.int64Value ?? -1
                #expect(received > 0 && received < 30, "\(result.message)")
                #expect(result.detail("sent") == .int(30))
            }
        }
    }

    @Test("replies delayed by a responder: rtt thresholds make it degraded or down; a reply from another address never counts")
    func delayedReplies() async throws {
        try await withNamespace { namespace in
            // The kernel's own replies (TTL 64) go; the responder's (TTL 99) pass, 150 ms late.
            try await namespace.nft("chain output { type filter hook output priority 0; icmp type echo-reply ip ttl != 99 drop; }")
            let ready = FileManager.default.temporaryDirectory.appendingPathComponent("pinguin-responder-\(UUID().uuidString)").path
            let responder = try ChildProcess.start("/usr/sbin/ip", arguments: ["netns", "exec", namespace.name, "/usr/bin/env", "python3",
                                                   TestServices.repositoryRoot.path + "/Tests/Fixtures/ping/icmp_responder.py", "150", ready])
            defer { unlink(ready) }
            do {
                try await checkDelayed(namespace, ready: ready)
            } catch {
                await stopFixture(responder)
                throw error
            }
            await stopFixture(responder)
        }
    }

    func checkDelayed(_ namespace: TestNamespace, ready: String) async throws {
        var started = false
        for _ in 0..<100 where !started {
            started = FileManager.default.fileExists(atPath: ready)
            if !started { try await Task.sleep(for: .milliseconds(50)) }
        }
        guard started else { throw TestNamespace.Failure(description: "icmp_responder.py did not start") }
        try await withPlugin { plugin in
            let base = #""count":3,"interval_ms":20,"timeout_ms":1000"#
            let slow = try await plugin.check(namespace.address, "{\(base)}")
            #expect(slow.status == .up, "\(slow.message)")
            #expect((slow.detail("rtt_min_ms")?.doubleValue ?? 0) >= 150, "\(slow.message)")
            let degraded = try await plugin.check(namespace.address, #"{\#(base),"degraded_rtt_ms":100,"down_rtt_ms":500}"#)
            #expect(degraded.status == .degraded)
            #expect(degraded.errorKind == "high_rtt")
            #expect(degraded.message.hasSuffix("; average rtt at least degraded_rtt_ms 100"), "\(degraded.message)")
            let down = try await plugin.check(namespace.address, #"{\#(base),"degraded_rtt_ms":50,"down_rtt_ms":100}"#)
            #expect(down.status == .down)
            #expect(down.errorKind == "high_rtt")
            #expect(down.message.hasSuffix("; average rtt at least down_rtt_ms 100"), "\(down.message)")
            // Requests to .4 are answered by the responder from .2 (the kernel's own reply is
            // dropped): the right identifier, sequence and cookie from the wrong host is no reply.
            let spoofed = try await plugin.check(namespace.secondAddress, #"{\#(base)}"#)
            #expect(spoofed.status == .down, "\(spoofed.message)")
            #expect(spoofed.errorKind == "no_reply")
        }
    }

    @Test("ttl: the namespace drops requests with a TTL under 10, so ttl 5 is down and ttl 20 up")
    func ttl() async throws {
        try await withNamespace { namespace in
            try await namespace.nft("chain input { type filter hook input priority 0; icmp type echo-request ip ttl < 10 drop; }")
            try await withPlugin { plugin in
                let low = try await plugin.check(namespace.address, #"{"count":2,"interval_ms":20,"timeout_ms":300,"ttl":5}"#)
                #expect(low.status == .down)
                #expect(low.errorKind == "no_reply")
                #expect(low.detail("ttl") == .int(5))
                let high = try await plugin.check(namespace.address, #"{"count":2,"interval_ms":20,"timeout_ms":300,"ttl":20}"#)
                #expect(high.status == .up, "\(high.message)")
            }
        }
    }

    @Test("payload_bytes and dont_fragment: 3000 bytes over a 1500-byte link fragment, or fail with DF")
    func payloadAndDontFragment() async throws {
        try await withNamespace { namespace in
            try await withPlugin { plugin in
                let fragmented = try await plugin.check(namespace.address, #"{"count":2,"interval_ms":20,"payload_bytes":3000}"#)
                #expect(fragmented.status == .up, "\(fragmented.message)")
                #expect(fragmented.detail("payload_bytes") == .int(3000))
                let refused = try await plugin.check(namespace.address, #"{"count":2,"interval_ms":20,"payload_bytes":3000,"dont_fragment":true}"#)
                #expect(refused.status == .down)
                #expect(refused.errorKind == "message_too_big")
                #expect(refused.message.hasPrefix("3000-byte echo request to \(namespace.address) is larger than the path MTU and dont_fragment is set"), "\(refused.message)")
                let small = try await plugin.check(namespace.address, #"{"count":2,"interval_ms":20,"payload_bytes":1000,"dont_fragment":true}"#)
                #expect(small.status == .up, "\(small.message)")
            }
        }
    }

    @Test("datagram ICMP sockets where ping_group_range allows; a permission error when neither kind is allowed")
    func socketKinds() async throws {
        try await withNamespace { namespace in
            try await namespace.exec(["/usr/sbin/sysctl", "-q", "-w", "net.ipv4.ping_group_range=0 2147483647"])
            try await withPlugin(wrapper: ["/usr/sbin/ip", "netns", "exec", namespace.name]) { plugin in
                let v4 = try await plugin.check(namespace.address, #"{"count":2,"interval_ms":20}"#)
                #expect(v4.status == .up, "\(v4.message)")
                #expect(v4.detail("socket") == .string("datagram"))
                let v6 = try await plugin.check(namespace.address6, #"{"count":2,"interval_ms":20}"#)
                #expect(v6.status == .up, "\(v6.message)")
                #expect(v6.detail("socket") == .string("datagram"))
            }
            try await namespace.exec(["/usr/sbin/sysctl", "-q", "-w", "net.ipv4.ping_group_range=1 0"])
            try await withPlugin(wrapper: ["/usr/sbin/ip", "netns", "exec", namespace.name, "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]) { plugin in
                let error = try await plugin.checkError(namespace.address, #"{"count":1}"#)
                #expect(error.code == -32603)
                #expect(error.kind == "permission")
                #expect(error.message.hasPrefix("cannot open an ICMP socket: datagram ICMP sockets are not allowed for group 65534 (net.ipv4.ping_group_range = 1 0;"), "\(error.message)")
                #expect(error.message.contains("raw sockets need CAP_NET_RAW"))
            }
        }
    }

    @Test("many checks at once share one socket per family")
    func concurrent() async throws {
        try await withPlugin { plugin in
            let results = try await withThrowingTaskGroup(of: PluginCheckResult.self) { group in
                for index in 0..<100 {
                    group.addTask { try await plugin.check(index % 2 == 0 ? "127.0.0.1" : "::1", #"{"count":3,"interval_ms":10}"#) }
                }
                return try await group.reduce(into: [PluginCheckResult]()) { $0.append($1) }
            }
            #expect(results.count == 100)
            #expect(results.allSatisfy { $0.status == .up && $0.detail("received") == .int(3) })
        }
    }

    @Test("pinguinctl plugin test passes")
    func pluginTest() async throws {
        try await withNamespace { namespace in
            let plugin = CheckerPluginHarness.binaries.appendingPathComponent("pinguin-check-ping").path
            let ctl = CheckerPluginHarness.binaries.appendingPathComponent("pinguinctl").path
            let cases = ["--case", "127.0.0.1", #"{"count":2,"interval_ms":20}"#, "up",
                         "--case", "::1", #"{"count":2,"interval_ms":20}"#, "up",
                         "--case", namespace.silentAddress, #"{"count":1,"timeout_ms":300}"#, "down"]
            let run: (status: Int32, output: String)
            if FileManager.default.isExecutableFile(atPath: ctl) {
                run = try await ChildProcess.run(ctl, arguments: ["plugin", "test", plugin] + cases)
            } else {
                run = try await ChildProcess.run("/usr/bin/env", arguments: ["python3", TestServices.repositoryRoot.path + "/proto-docs/examples/conformance.py", plugin] + cases)
            }
            #expect(run.status == 0, "\(run.output)")
        }
    }
}
