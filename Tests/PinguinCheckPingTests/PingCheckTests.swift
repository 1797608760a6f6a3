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
            try await namespace.nft(TestNamespace.dropKernelEchoReplies)
            try await namespace.withICMPResponder(delayMilliseconds: 150) {
                try await checkDelayed(namespace)
            }
        }
    }

    func checkDelayed(_ namespace: TestNamespace) async throws {
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

    @Test("timeout_ms: a reply 150 ms late is lost with timeout_ms 50 and counts with timeout_ms 1000")
    func timeoutMilliseconds() async throws {
        try await withNamespace { namespace in
            try await namespace.nft(TestNamespace.dropKernelEchoReplies)
            try await namespace.withICMPResponder(delayMilliseconds: 150) {
                try await withPlugin { plugin in
                    let short = try await plugin.check(namespace.address, #"{"count":1,"timeout_ms":50}"#)
                    #expect(short.status == .down, "\(short.message)")
                    #expect(short.errorKind == "no_reply")
                    #expect(short.detail("rtts_ms") == .array([.null]))
                    #expect((short.phase("echo") ?? 1000) < 140, "waited \(short.phase("echo") ?? -1) ms")
                    let long = try await plugin.check(namespace.address, #"{"count":1,"timeout_ms":1000}"#)
                    #expect(long.status == .up, "\(long.message)")
                    #expect((long.detail("rtt_min_ms")?.doubleValue ?? 0) >= 150, "\(long.message)")
                }
            }
        }
    }

    @Test("replies must match identifier, sequence and cookie: one wrong field is no reply; a duplicate is counted apart")
    func replyMatching() async throws {
        try await withNamespace { namespace in
            try await namespace.nft(TestNamespace.dropKernelEchoReplies)
            try await withPlugin { plugin in
                let config = #"{"count":3,"interval_ms":20,"timeout_ms":300}"#
                // The responder's right replies count, so each wrong one below fails for its one difference.
                try await namespace.withICMPResponder(delayMilliseconds: 0) {
                    let right = try await plugin.check(namespace.address, config)
                    #expect(right.status == .up, "\(right.message)")
                    #expect(right.detail("received") == .int(3))
                }
                for mode in ["wrong_sequence", "wrong_identifier", "wrong_cookie"] {
                    try await namespace.withICMPResponder(delayMilliseconds: 0, mode: mode) {
                        let result = try await plugin.check(namespace.address, config)
                        #expect(result.status == .down, "\(mode) (\(result.detail("socket").map { "\($0)" } ?? "?") socket): \(result.message)")
                        #expect(result.errorKind == "no_reply", "\(mode)")
                        #expect(result.detail("received") == .int(0), "\(mode)")
                    }
                }
                // The first request is answered twice, long before the second goes out.
                try await namespace.withICMPResponder(delayMilliseconds: 0, mode: "duplicate_first") {
                    let result = try await plugin.check(namespace.address, #"{"count":2,"interval_ms":200,"timeout_ms":1000}"#)
                    #expect(result.status == .up, "\(result.message)")
                    #expect(result.detail("received") == .int(2))
                    #expect(result.detail("loss_percent") == .int(0))
                    #expect(result.detail("duplicates") == .int(1), "\(result.details)")
                }
            }
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

    @Test("raw ICMP sockets as root where ping_group_range allows no datagram ones (a fresh namespace's default \"1 0\")")
    func rawSocket() async throws {
        try await withNamespace { namespace in
            let range = try await namespace.exec(["/usr/sbin/sysctl", "-n", "net.ipv4.ping_group_range"])
            #expect(range.split(whereSeparator: \.isWhitespace) == ["1", "0"], "\(range)")
            try await withPlugin(wrapper: ["/usr/sbin/ip", "netns", "exec", namespace.name]) { plugin in
                let v4 = try await plugin.check(namespace.address, #"{"count":2,"interval_ms":20}"#)
                #expect(v4.status == .up, "\(v4.message)")
                #expect(v4.detail("socket") == .string("raw"))
                let v6 = try await plugin.check(namespace.address6, #"{"count":2,"interval_ms":20}"#)
                #expect(v6.status == .up, "\(v6.message)")
                #expect(v6.detail("socket") == .string("raw"))
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

    @Test("a name: ip_version picks the family of its addresses (/etc/netns/NAME/hosts); a name that does not resolve is dns_no_such_host")
    func namesAndFamilies() async throws {
        try await withNamespace { namespace in
            // ip netns exec puts these over /etc/hosts and /etc/nsswitch.conf for the plugin: names from the file only.
            let etc = "/etc/netns/\(namespace.name)"
            try FileManager.default.createDirectory(atPath: etc, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: etc) }
            try "127.0.0.1 localhost\n\(namespace.address) dual.test v4.test\n\(namespace.address6) dual.test v6.test\n"
                .write(toFile: etc + "/hosts", atomically: true, encoding: .utf8)
            try "hosts: files\n".write(toFile: etc + "/nsswitch.conf", atomically: true, encoding: .utf8)
            try await withPlugin(wrapper: ["/usr/sbin/ip", "netns", "exec", namespace.name]) { plugin in
                let cases = [("dual.test", "ipv4", namespace.address), ("dual.test", "ipv6", namespace.address6),
                             ("dual.test", "prefer_ipv4", namespace.address), ("dual.test", "prefer_ipv6", namespace.address6),
                             // A preference falls back to the family the name has.
                             ("v4.test", "prefer_ipv6", namespace.address), ("v6.test", "prefer_ipv4", namespace.address6)]
                for (name, version, expected) in cases {
                    let result = try await plugin.check(name, #"{"count":1,"ip_version":"\#(version)"}"#)
                    #expect(result.status == .up, "\(name) \(version): \(result.message)")
                    #expect(result.detail("address") == .string(expected), "\(name) \(version)")
                    #expect(result.detail("address_family") == .string(expected.contains(":") ? "ipv6" : "ipv4"), "\(name) \(version)")
                    #expect(result.phase("dns") != nil, "\(name) \(version)")
                }
                let any = try await plugin.check("dual.test", #"{"count":1,"ip_version":"any"}"#)
                #expect(any.status == .up, "\(any.message)")
                #expect([.string(namespace.address), .string(namespace.address6)].contains(any.detail("address")), "\(any.details)")
                let unknown = try await plugin.check("nowhere.test", #"{"count":1}"#)
                #expect(unknown.status == .down)
                #expect(unknown.errorKind == "dns_no_such_host")
                #expect(unknown.message == "nowhere.test does not resolve: Name or service not known")
                #expect(unknown.phase("dns") != nil)
                let noIPv6 = try await plugin.check("v4.test", #"{"count":1,"ip_version":"ipv6"}"#)
                #expect(noIPv6.status == .down)
                #expect(noIPv6.errorKind == "dns_no_such_host", "\(noIPv6.message)")
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
            let cases = ["--case", "127.0.0.1", #"{"count":2,"interval_ms":20}"#, "up",
                         "--case", "::1", #"{"count":2,"interval_ms":20}"#, "up",
                         "--case", namespace.silentAddress, #"{"count":1,"timeout_ms":300}"#, "down"]
            let run = try await CheckerPluginHarness.pluginTest(plugin, cases: cases)
            #expect(run.status == 0, "\(run.output)")
            #expect(run.output.contains("PASS \(plugin)"), "\(run.output)")
        }
    }

    @Test("proto-docs/examples/conformance.py passes too")
    func conformancePy() async throws {
        let plugin = CheckerPluginHarness.binaries.appendingPathComponent("pinguin-check-ping").path
        let run = try await ChildProcess.run("/usr/bin/env", arguments: ["python3", TestServices.repositoryRoot.path + "/proto-docs/examples/conformance.py", plugin,
                                                                         "--case", "127.0.0.1", #"{"count":2,"interval_ms":20}"#, "up"])
        #expect(run.status == 0, "\(run.output)")
    }

    @Test("a key that is not an option (a misspelling) is a JSON-RPC error naming it, never ignored")
    func unknownKey() async throws {
        try await withPlugin { plugin in
            // Ignored, timout_ms would leave the default and 127.0.0.1 would be up.
            let error = try await plugin.checkError("127.0.0.1", #"{"timout_ms":1}"#)
            #expect(error.code == -32602)
            #expect(error.kind == "invalid_config")
            #expect(error.message == "config.timout_ms is not an option of the ping kind")
        }
    }
}
