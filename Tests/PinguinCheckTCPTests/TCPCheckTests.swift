import Foundation
import PinguinPluginHost
import PinguinTestSupport
import PinguinWire
import Testing

/// The built pinguin-check-tcp, through the plugin protocol, against Tests/Fixtures/tcp: every
/// option with the status, error_kind and message it must give.
@Suite("pinguin-check-tcp", .timeLimit(.minutes(2)))
struct TCPCheckTests {
    func withPlugin(_ body: (CheckerPluginHarness, TCPFixture) async throws -> Void) async throws {
        let fixture = try await TCPFixture.shared.value
        let plugin = try await CheckerPluginHarness.start("pinguin-check-tcp", kind: "tcp")
        do {
            try await body(plugin, fixture)
        } catch {
            await plugin.close()
            throw error
        }
        await plugin.close()
    }

    // MARK: Connect

    @Test("the handshake declares kind tcp with its schemas")
    func handshake() async throws {
        try await withPlugin { plugin, _ in
            let kinds = plugin.initializeResult["kinds"]?.arrayValue ?? []
            #expect(kinds.first?.objectValue?["kind"] == .string("tcp"))
            #expect(kinds.first?.objectValue?["config_schema"]?.objectValue?["additionalProperties"] == .bool(false))
            #expect(kinds.first?.objectValue?["target_schema"] != nil)
        }
    }

    @Test("connect to an IPv4 address: up, resolved address and connect phase, no DNS")
    func connectIPv4() async throws {
        try await withPlugin { plugin, fixture in
            let result = try await plugin.check(fixture.target("banner"))
            #expect(result.status == .up)
            #expect(result.errorKind == nil)
            #expect(result.message.hasPrefix("connected to 127.0.0.1:\(fixture.port("banner")) in "), "\(result.message)")
            #expect(result.detail("resolved_address") == .string("127.0.0.1"))
            #expect(result.detail("address_family") == .string("ipv4"))
            #expect(result.phase("connect") != nil)
            #expect(result.phase("dns") == nil)
        }
    }

    @Test("connect to [::1]:port")
    func connectIPv6() async throws {
        try await withPlugin { plugin, fixture in
            let result = try await plugin.check("[::1]:\(fixture.port("banner6"))")
            #expect(result.status == .up)
            #expect(result.message.hasPrefix("connected to [::1]:\(fixture.port("banner6")) in "), "\(result.message)")
            #expect(result.detail("address_family") == .string("ipv6"))
        }
    }

    @Test("a host name is resolved (dns phase); ip_version ipv4 and prefer_ipv4 pick 127.0.0.1")
    func hostNameAndIPVersion() async throws {
        try await withPlugin { plugin, fixture in
            for version in ["ipv4", "prefer_ipv4", "any"] {
                let result = try await plugin.check("localhost:\(fixture.port("banner"))", #"{"ip_version":"\#(version)"}"#)
                #expect(result.status == .up, "\(version): \(result.message)")
                #expect(result.detail("resolved_address") == .string("127.0.0.1"), "\(version)")
                #expect(result.phase("dns") != nil, "\(version)")
            }
            // An address of the other family than ip_version asks for cannot be checked.
            let error = try await plugin.checkError("[::1]:\(fixture.port("banner6"))", #"{"ip_version":"ipv4"}"#)
            #expect(error.code == -32602)
            #expect(error.message == "ip_version is ipv4 but the target is an IPv6 address")
        }
    }

    @Test("refused: nothing listens")
    func refused() async throws {
        let port = try TCPFixture.closedPort()
        try await withPlugin { plugin, _ in
            let result = try await plugin.check("127.0.0.1:\(port)")
            #expect(result.status == .down)
            #expect(result.errorKind == "refused")
            #expect(result.message == "connection to 127.0.0.1:\(port) refused")
        }
    }

    @Test("timeout_ms: SYNs dropped by nftables time out at the connect timeout")
    func connectTimeout() async throws {
        let blackhole = try await BlackholePort.make()
        do {
            try await withPlugin { plugin, _ in
                let started = ContinuousClock.now
                let result = try await plugin.check("127.0.0.1:\(blackhole.port)", #"{"timeout_ms":300}"#)
                #expect(result.status == .down)
                #expect(result.errorKind == "timeout")
                #expect(result.message == "no answer from 127.0.0.1:\(blackhole.port) within 300 ms (connect timeout)")
                #expect(ContinuousClock.now - started < .seconds(3))
                #expect((result.latencyMilliseconds ?? 0) >= 290)
                // Without timeout_ms, the check's own deadline bounds the connect: still down, before the deadline.
                let bounded = try await plugin.check("127.0.0.1:\(blackhole.port)", "{}", timeout: .seconds(1))
                #expect(bounded.status == .down)
                #expect(bounded.errorKind == "timeout")
            }
        } catch {
            await blackhole.remove()
            throw error
        }
        await blackhole.remove()
    }

    @Test("unreachable: a SYN answered with ICMP host-unreachable (an nftables reject)")
    func unreachable() async throws {
        let rejected = try await BlackholePort.make(verdict: "reject with icmpx type host-unreachable")
        do {
            try await withPlugin { plugin, _ in
                let result = try await plugin.check("127.0.0.1:\(rejected.port)", #"{"timeout_ms":3000}"#)
                #expect(result.status == .down)
                #expect(result.errorKind == "unreachable", "\(result.message)")
                #expect(result.message == "host unreachable: 127.0.0.1:\(rejected.port)")
                #expect(result.phase("connect") != nil)
            }
        } catch {
            await rejected.remove()
            throw error
        }
        await rejected.remove()
    }

    @Test("degraded_ms: a slow banner makes the check degraded (slow); a fast one stays up")
    func degraded() async throws {
        try await withPlugin { plugin, fixture in
            let slow = try await plugin.check(fixture.target("slow_banner"), #"{"degraded_ms":300,"steps":[{"expect":"220"}]}"#)
            #expect(slow.status == .degraded)
            #expect(slow.errorKind == "slow")
            #expect(slow.message.contains(", slower than degraded_ms 300"), "\(slow.message)")
            let fast = try await plugin.check(fixture.target("banner"), #"{"degraded_ms":2000,"steps":[{"expect":"220"}]}"#)
            #expect(fast.status == .up, "\(fast.message)")
        }
    }

    // MARK: Banner

    @Test("banner_wait_ms and banner_bytes: the first bytes are in details.banner")
    func banner() async throws {
        try await withPlugin { plugin, fixture in
            let full = try await plugin.check(fixture.target("banner"), #"{"banner_wait_ms":2000}"#)
            #expect(full.status == .up)
            #expect(full.detail("banner") == .string("220 pinguin fixture ready\\r\\n"))
            #expect(full.phase("first_byte") != nil)
            let capped = try await plugin.check(fixture.target("banner"), #"{"banner_wait_ms":2000,"banner_bytes":3}"#)
            #expect(capped.detail("banner") == .string("220"))
            // A server that sends nothing: no banner, and that is not a failure.
            let silent = try await plugin.check(fixture.target("silent"), #"{"banner_wait_ms":200}"#)
            #expect(silent.status == .up)
            #expect(silent.detail("banner") == nil)
        }
    }

    // MARK: Steps

    @Test("steps: send text, expect text")
    func sendExpectText() async throws {
        try await withPlugin { plugin, fixture in
            let result = try await plugin.check(fixture.target("banner"), #"{"steps":[{"expect":"ready"},{"send":"PING\r\n"},{"expect":"PONG"},{"send":"QUIT\r\n"},{"expect":"221"}]}"#)
            #expect(result.status == .up, "\(result.message)")
            #expect(result.message.contains(", 5 steps passed in "), "\(result.message)")
            #expect(result.detail("steps_completed") == .int(5))
            #expect(result.phase("steps") != nil)
        }
    }

    @Test("steps: send_hex and expect_hex")
    func sendExpectHex() async throws {
        try await withPlugin { plugin, fixture in
            let result = try await plugin.check(fixture.target("banner"), #"{"steps":[{"send_hex":"48 45 58 0d 0a"},{"expect_hex":"0001feff"}]}"#)
            #expect(result.status == .up, "\(result.message)")
            let wrong = try await plugin.check(fixture.target("banner"), #"{"steps":[{"send_hex":"484558 0d0a"},{"expect_hex":"00 02","timeout_ms":1000}]}"#)
            #expect(wrong.status == .down)
            #expect(wrong.errorKind == "expect_mismatch")
            #expect(wrong.message.hasPrefix(#"step 2: expected "0x0002", got "220 pinguin fixture ready\r\n\x00\x01"#), "\(wrong.message)")
        }
    }

    @Test("steps: expect_regex matches or is a mismatch; bytes matched once are used up")
    func expectRegex() async throws {
        try await withPlugin { plugin, fixture in
            let result = try await plugin.check(fixture.target("banner"), #"{"steps":[{"expect_regex":"^220 [a-z ]+ready\\r\\n"},{"send":"ECHO abc123\r\n"},{"expect_regex":"[a-z]+[0-9]{3}"}]}"#)
            #expect(result.status == .up, "\(result.message)")
            let mismatch = try await plugin.check(fixture.target("banner"), #"{"steps":[{"expect_regex":"^SSH-2\\.0","timeout_ms":1000}]}"#)
            #expect(mismatch.status == .down)
            #expect(mismatch.errorKind == "expect_mismatch")
            #expect(mismatch.message == #"step 1: expected regex /^SSH-2\.0/, got "220 pinguin fixture ready\r\n" within 1000 ms"#)
            #expect(mismatch.detail("received") == .string("220 pinguin fixture ready\\r\\n"))
            // The banner was used up by step 1, so step 3 sees only what came after.
            let consumed = try await plugin.check(fixture.target("banner"), #"{"steps":[{"expect":"220"},{"send":"PING\r\n"},{"expect":"220","timeout_ms":1000}]}"#)
            #expect(consumed.status == .down)
            #expect(consumed.errorKind == "expect_mismatch")
            #expect(consumed.message.contains(#"got " pinguin fixture ready\r\nPONG\r\n""#), "\(consumed.message)")
        }
    }

    @Test("steps: expect text mismatch names what came instead")
    func expectMismatch() async throws {
        try await withPlugin { plugin, fixture in
            let result = try await plugin.check(fixture.target("banner"), #"{"steps":[{"expect":"220"},{"send":"PING\r\n"},{"expect":"NOPE","timeout_ms":1000}]}"#)
            #expect(result.status == .down)
            #expect(result.errorKind == "expect_mismatch")
            #expect(result.message == #"step 3: expected "NOPE", got " pinguin fixture ready\r\nPONG\r\n" within 1000 ms"#)
            #expect(result.detail("steps_completed") == .int(2))
        }
    }

    @Test("steps: timeout_ms of an expect step; nothing received is a timeout")
    func stepTimeout() async throws {
        try await withPlugin { plugin, fixture in
            let silent = try await plugin.check(fixture.target("silent"), #"{"steps":[{"expect":"220","timeout_ms":300}]}"#)
            #expect(silent.status == .down)
            #expect(silent.errorKind == "timeout")
            #expect(silent.message == #"step 1: expected "220", received nothing within 300 ms"#)
            let slow = #"{"steps":[{"expect":"ready\r\n"},{"send":"SLOW\r\n"},{"expect":"PONG","timeout_ms":%d}]}"#
            let tooShort = try await plugin.check(fixture.target("banner"), String(format: slow, 200))
            #expect(tooShort.status == .down)
            #expect(tooShort.errorKind == "timeout")
            #expect(tooShort.message == #"step 3: expected "PONG", received nothing within 200 ms"#)
            let enough = try await plugin.check(fixture.target("banner"), String(format: slow, 3000))
            #expect(enough.status == .up, "\(enough.message)")
        }
    }

    @Test("reset: a server that resets at once, or in the middle of the steps")
    func reset() async throws {
        try await withPlugin { plugin, fixture in
            let atOnce = try await plugin.check(fixture.target("reset"), #"{"steps":[{"expect":"220","timeout_ms":2000}]}"#)
            #expect(atOnce.status == .down)
            #expect(atOnce.errorKind == "reset")
            #expect(atOnce.message == #"step 1: connection reset by the server while expecting "220", after nothing"#)
            let later = try await plugin.check(fixture.target("banner"), #"{"steps":[{"expect":"220"},{"send":"RESET\r\n"},{"expect":"PONG","timeout_ms":2000}]}"#)
            #expect(later.status == .down)
            #expect(later.errorKind == "reset")
            #expect(later.message.hasPrefix(#"step 3: connection reset by the server while expecting "PONG""#), "\(later.message)")
        }
    }

    @Test("closed: a server that closes before sending what is expected")
    func closed() async throws {
        try await withPlugin { plugin, fixture in
            let result = try await plugin.check(fixture.target("close"), #"{"steps":[{"expect":"220","timeout_ms":2000}]}"#)
            #expect(result.status == .down)
            #expect(result.errorKind == "closed")
            #expect(result.message == #"step 1: the server closed the connection before sending "220""#)
            let afterBye = try await plugin.check(fixture.target("banner"), #"{"steps":[{"send":"QUIT\r\n"},{"expect":"PONG","timeout_ms":2000}]}"#)
            #expect(afterBye.status == .down)
            #expect(afterBye.errorKind == "expect_mismatch")
            #expect(afterBye.message == #"step 2: expected "PONG", got "220 pinguin fixture ready\r\n221 bye\r\n" and then the server closed the connection"#)
        }
    }

    @Test("a config the plugin cannot use is a JSON-RPC error (unknown), never down")
    func invalidConfig() async throws {
        try await withPlugin { plugin, fixture in
            let regex = try await plugin.checkError(fixture.target("banner"), #"{"steps":[{"expect_regex":"("}]}"#)
            #expect(regex.code == -32602)
            #expect(regex.kind == "invalid_config")
            #expect(regex.message.hasPrefix("steps[0].expect_regex does not compile"), "\(regex.message)")
            let two = try await plugin.checkError(fixture.target("banner"), #"{"steps":[{"send":"a","expect":"b"}]}"#)
            #expect(two.message == "steps[0] needs exactly one of send, send_hex, expect, expect_hex, expect_regex, as a string")
            let target = try await plugin.checkError("no-port", "{}")
            #expect(target.message == "target must be host:port or [ipv6]:port")
        }
    }

    @Test("a key that is not an option (a misspelling), at the top, in tls or in a step, is a JSON-RPC error naming it")
    func unknownKeys() async throws {
        try await withPlugin { plugin, fixture in
            // Each config would be checked, and up, if the misspelt key were ignored.
            let cases = [
                (#"{"timout_ms":1}"#, "config.timout_ms is not an option of the tcp kind"),
                (#"{"tls":{"verfy":false}}"#, "config.tls.verfy is not an option of the tcp kind"),
                (#"{"steps":[{"expect":"220","timout_ms":1}]}"#, "config.steps[0].timout_ms is not an option of the tcp kind"),
            ]
            for (config, message) in cases {
                let error = try await plugin.checkError(fixture.target("banner"), config)
                #expect(error.code == -32602, "\(config)")
                #expect(error.kind == "invalid_config", "\(config)")
                #expect(error.message == message)
            }
        }
    }

    // MARK: TLS

    @Test("tls with ca_file and server_name: up, with version and certificate facts; steps run over TLS")
    func tlsValid() async throws {
        try await withPlugin { plugin, fixture in
            let result = try await plugin.check(fixture.target("tls_valid"), #"{"tls":{"server_name":"localhost","ca_file":"\#(fixture.caFile)"},"steps":[{"expect":"220"},{"send":"PING\r\n"},{"expect":"PONG"}]}"#)
            #expect(result.status == .up, "\(result.message)")
            #expect(result.message.hasPrefix("connected to 127.0.0.1:\(fixture.port("tls_valid")) with TLS, 3 steps passed in "), "\(result.message)")
            #expect(result.phase("tls") != nil)
            #expect(result.detail("tls.version") == .string("1.3"))
            #expect(result.detail("tls.server_name") == .string("localhost"))
            #expect(result.detail("tls.certificate.subject") == .string("CN=localhost"))
            #expect(result.detail("tls.certificate.issuer") == .string("CN=Pinguin Test CA"))
            #expect(result.detail("tls.certificate.dns_names") == .array([.string("localhost")]))
            let days = result.detail("tls.certificate.days_left")?.doubleValue ?? 0
            #expect(days > 29 && days <= 30)
            // Without server_name, an address target is checked against the certificate's IP names.
            let byAddress = try await plugin.check(fixture.target("tls_valid"), #"{"tls":{"ca_file":"\#(fixture.caFile)"}}"#)
            #expect(byAddress.status == .up, "\(byAddress.message)")
        }
    }

    @Test("tls verify (default on, system CAs): a test CA's certificate is not trusted")
    func tlsUntrusted() async throws {
        try await withPlugin { plugin, fixture in
            let result = try await plugin.check(fixture.target("tls_valid"), #"{"tls":{"server_name":"localhost"}}"#)
            #expect(result.status == .down)
            #expect(result.errorKind == "tls_untrusted")
            #expect(result.message == "certificate of CN=localhost (issuer CN=Pinguin Test CA) is not trusted")
            #expect(result.detail("tls.certificate.subject") == .string("CN=localhost"))
        }
    }

    @Test("tls: an expired certificate is tls_expired, with its end date")
    func tlsExpired() async throws {
        try await withPlugin { plugin, fixture in
            let result = try await plugin.check(fixture.target("tls_expired"), #"{"tls":{"server_name":"localhost","ca_file":"\#(fixture.caFile)"}}"#)
            #expect(result.status == .down)
            #expect(result.errorKind == "tls_expired")
            #expect(result.message == "certificate of CN=localhost expired on 2020-02-01T00:00:00Z")
            #expect(result.detail("tls.certificate.not_after") == .string("2020-02-01T00:00:00Z"))
        }
    }

    @Test("tls: a certificate for another name is tls_hostname")
    func tlsWrongName() async throws {
        try await withPlugin { plugin, fixture in
            let result = try await plugin.check(fixture.target("tls_wrongname"), #"{"tls":{"server_name":"localhost","ca_file":"\#(fixture.caFile)"}}"#)
            #expect(result.status == .down)
            #expect(result.errorKind == "tls_hostname")
            #expect(result.message == "certificate does not match localhost")
        }
    }

    @Test("tls verify false accepts any certificate and still reports it; expiry_days still applies")
    func tlsNoVerify() async throws {
        try await withPlugin { plugin, fixture in
            let result = try await plugin.check(fixture.target("tls_expired"), #"{"tls":{"verify":false}}"#)
            #expect(result.status == .up, "\(result.message)")
            #expect(result.detail("tls.verified") == .bool(false))
            #expect(result.detail("tls.certificate.not_after") == .string("2020-02-01T00:00:00Z"))
            let threshold = try await plugin.check(fixture.target("tls_expired"), #"{"tls":{"verify":false,"expiry_days":10,"expiry_status":"down"}}"#)
            #expect(threshold.status == .down)
            #expect(threshold.errorKind == "tls_expiring")
            #expect(threshold.message.hasPrefix("certificate of CN=localhost expired "), "\(threshold.message)")
        }
    }

    @Test("tls expiry_days and expiry_status: a certificate ending in 5 days")
    func tlsExpiry() async throws {
        try await withPlugin { plugin, fixture in
            let base = #""server_name":"localhost","ca_file":"\#(fixture.caFile)""#
            let degraded = try await plugin.check(fixture.target("tls_soon"), #"{"tls":{\#(base),"expiry_days":10}}"#)
            #expect(degraded.status == .degraded)
            #expect(degraded.errorKind == "tls_expiring")
            // 5 days less the seconds since make-certs.sh ran: "4.9" or "5.0".
            #expect(degraded.message.hasPrefix("certificate of CN=localhost expires in 4.9 days (") || degraded.message.hasPrefix("certificate of CN=localhost expires in 5.0 days ("),
                    "\(degraded.message)")
            #expect(degraded.message.hasSuffix("), threshold 10 days"), "\(degraded.message)")
            let down = try await plugin.check(fixture.target("tls_soon"), #"{"tls":{\#(base),"expiry_days":10,"expiry_status":"down"}}"#)
            #expect(down.status == .down)
            #expect(down.errorKind == "tls_expiring")
            let fine = try await plugin.check(fixture.target("tls_soon"), #"{"tls":{\#(base),"expiry_days":3}}"#)
            #expect(fine.status == .up, "\(fine.message)")
        }
    }

    @Test("tls min_version 1.3 against a TLS 1.2 server is a handshake failure; 1.2 passes")
    func tlsMinimumVersion() async throws {
        try await withPlugin { plugin, fixture in
            let base = #""server_name":"localhost","ca_file":"\#(fixture.caFile)""#
            let refused = try await plugin.check(fixture.target("tls_tls12"), #"{"tls":{\#(base),"min_version":"1.3"}}"#)
            #expect(refused.status == .down)
            #expect(refused.errorKind == "tls_handshake")
            #expect(refused.message.hasPrefix("TLS handshake failed: "), "\(refused.message)")
            let fine = try await plugin.check(fixture.target("tls_tls12"), #"{"tls":{\#(base),"min_version":"1.2"}}"#)
            #expect(fine.status == .up, "\(fine.message)")
            #expect(fine.detail("tls.version") == .string("1.2"))
        }
    }

    @Test("tls against a server that accepts and stays silent: a handshake timeout before the check's deadline")
    func tlsHandshakeTimeout() async throws {
        try await withPlugin { plugin, fixture in
            let started = ContinuousClock.now
            let result = try await plugin.check(fixture.target("silent"), #"{"tls":{"verify":false}}"#, timeout: .seconds(1))
            #expect(result.status == .down)
            #expect(result.errorKind == "timeout", "\(result.message)")
            #expect(result.message == "TLS handshake with 127.0.0.1 timed out")
            #expect(result.phase("tls") != nil)
            #expect(ContinuousClock.now - started < .seconds(2))
        }
    }

    @Test("tls chain_earliest_expiry: an intermediate that ends before the leaf; none when the chain outlives the leaf")
    func tlsChainEarliestExpiry() async throws {
        try await withPlugin { plugin, fixture in
            let base = #""server_name":"localhost","ca_file":"\#(fixture.caFile)""#
            let result = try await plugin.check(fixture.target("tls_chained"), #"{"tls":{\#(base)}}"#)
            #expect(result.status == .up, "\(result.message)")
            #expect(result.detail("tls.certificate.issuer") == .string("CN=Pinguin Test Intermediate"))
            let leafDays = result.detail("tls.certificate.days_left")?.doubleValue ?? 0
            #expect(leafDays > 19 && leafDays <= 20, "\(leafDays)")
            let earliest = result.detail("tls.chain_earliest_expiry")?.stringValue.flatMap { ISO8601DateFormatter().date(from: $0) }
            let days = (earliest?.timeIntervalSinceNow ?? 0) / 86_400
            #expect(days > 2.9 && days <= 3, "\(result.detail("tls") ?? .null)")
            // tls_soon's leaf (5 days) ends long before the test CA (30 days).
            let soon = try await plugin.check(fixture.target("tls_soon"), #"{"tls":{\#(base)}}"#)
            #expect(soon.status == .up, "\(soon.message)")
            #expect(soon.detail("tls.chain_earliest_expiry") == nil)
        }
    }

    @Test("tls against a server that does not speak TLS is a handshake failure")
    func tlsAgainstPlainText() async throws {
        try await withPlugin { plugin, fixture in
            let result = try await plugin.check(fixture.target("banner"), #"{"tls":{"verify":false}}"#)
            #expect(result.status == .down)
            #expect(result.errorKind == "tls_handshake")
            #expect(result.message.hasPrefix("TLS handshake failed"), "\(result.message)")
        }
    }

    // MARK: Concurrency and conformance

    @Test("300 checks at once, on one event loop, all answered")
    func concurrent() async throws {
        try await withPlugin { plugin, fixture in
            let statuses = try await withThrowingTaskGroup(of: PluginCheckResult.Status.self) { group in
                for index in 0..<300 {
                    let config = index % 2 == 0 ? #"{"steps":[{"expect":"220"},{"send":"PING\r\n"},{"expect":"PONG"}]}"# : "{}"
                    group.addTask { try await plugin.check(fixture.target("banner"), config).status }
                }
                return try await group.reduce(into: [PluginCheckResult.Status]()) { $0.append($1) }
            }
            #expect(statuses.count == 300)
            #expect(statuses.allSatisfy { $0 == .up })
        }
    }

    @Test("pinguinctl plugin test passes")
    func pluginTest() async throws {
        let fixture = try await TCPFixture.shared.value
        let plugin = CheckerPluginHarness.binaries.appendingPathComponent("pinguin-check-tcp").path
        let closed = try TCPFixture.closedPort()
        let cases = ["--case", fixture.target("banner"), #"{"steps":[{"expect":"220"}]}"#, "up",
                     "--case", "127.0.0.1:\(closed)", "{}", "down",
                     "--case", fixture.target("slow_banner"), #"{"degraded_ms":100,"steps":[{"expect":"220"}]}"#, "degraded"]
        let run = try await CheckerPluginHarness.pluginTest(plugin, cases: cases)
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("PASS \(plugin)"), "\(run.output)")
    }

    @Test("proto-docs/examples/conformance.py passes too")
    func conformancePy() async throws {
        let fixture = try await TCPFixture.shared.value
        let plugin = CheckerPluginHarness.binaries.appendingPathComponent("pinguin-check-tcp").path
        let run = try await ChildProcess.run("/usr/bin/env", arguments: ["python3", TestServices.repositoryRoot.path + "/proto-docs/examples/conformance.py", plugin,
                                                                         "--case", fixture.target("banner"), #"{"steps":[{"expect":"220"}]}"#, "up"])
        #expect(run.status == 0, "\(run.output)")
    }
}
