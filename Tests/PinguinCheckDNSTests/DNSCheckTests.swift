import Foundation
import PinguinPluginHost
import PinguinWire
import Testing

/// The built pinguin-check-dns against dnsmasq (zones `pinguin.test` and `2.0.192.in-addr.arpa`)
/// and the test responder (SERVFAIL, REFUSED, slow, silent, malformed), through the protocol.
/// Every option is held to its status, error_kind and message. Nothing here leaves the machine.
@Suite("pinguin-check-dns against local DNS servers", .timeLimit(.minutes(2)))
struct DNSCheckTests {
    @Test("record types A, AAAA, CNAME, MX, NS, TXT, SOA, SRV, PTR, CAA: the answers, TTLs and SOA serial in the details")
    func recordTypes() async throws {
        try await DNSTestBed.with { bed in
            let cases: [(target: String, type: String, values: [String], message: String)] = [
                ("www.pinguin.test", "A", ["192.0.2.1"], "www.pinguin.test A: 1 answer (192.0.2.1) in "),
                ("www.pinguin.test", "AAAA", ["2001:db8::1"], "www.pinguin.test AAAA: 1 answer (2001:db8::1) in "),
                ("alias.pinguin.test", "CNAME", ["www.pinguin.test"], "alias.pinguin.test CNAME: 1 answer (www.pinguin.test) in "),
                ("pinguin.test", "MX", ["10 mail.pinguin.test", "20 mail2.pinguin.test"], "pinguin.test MX: 2 answers ("),
                ("pinguin.test", "NS", ["ns.pinguin.test"], "pinguin.test NS: 1 answer (ns.pinguin.test) in "),
                ("split.pinguin.test", "TXT", ["part onepart two"], "split.pinguin.test TXT: 1 answer (part onepart two) in "),
                ("pinguin.test", "SOA", ["ns.pinguin.test hostmaster.pinguin.test 2024052001 1200 180 1209600 1234"],
                 "pinguin.test SOA: 1 answer (ns.pinguin.test hostmaster.pinguin.test 2024052001 1200 180 1209600 1234) in "),
                ("_sip._udp.pinguin.test", "SRV", ["10 5 5060 sip.pinguin.test"], "_sip._udp.pinguin.test SRV: 1 answer (10 5 5060 sip.pinguin.test) in "),
                ("192.0.2.1", "PTR", ["www.pinguin.test"], "1.2.0.192.in-addr.arpa PTR: 1 answer (www.pinguin.test) in "),
                ("pinguin.test", "CAA", [#"0 issue "letsencrypt.org""#], #"pinguin.test CAA: 1 answer (0 issue "letsencrypt.org") in "#),
            ]
            for item in cases {
                let result = try await bed.plugin.check(item.target, try bed.local(#""record_type":"\#(item.type)""#))
                #expect(result.status == .up, "\(item.type): \(result.message)")
                #expect(result.errorKind == nil)
                #expect(result.message.hasPrefix(item.message), "\(result.message)")
                #expect(Set(result.answerValues) == Set(item.values), "\(item.type): \(result.details)")
                #expect(result.answerTTLs.allSatisfy { $0 == Int64(DNSMasq.ttl) }, "\(item.type): \(result.details)")
                #expect(result.details["rcode"] == .string("NOERROR"))
                #expect(result.details["record_type"] == .string(item.type))
                #expect(result.details["resolver"] == .string("127.0.0.1:\(bed.dnsmasq.port)"))
                #expect(result.phases["lookup"]?.doubleValue != nil)
                #expect(result.latencyMilliseconds == result.phases["lookup"]?.doubleValue)
            }
            let soa = try await bed.plugin.check("pinguin.test", try bed.local(#""record_type":"SOA""#))
            #expect(soa.details["soa_serial"] == .int(DNSMasq.serial))
            let split = try await bed.plugin.check("split.pinguin.test", try bed.local(#""record_type":"TXT""#))
            #expect(split.details["answers"]?.arrayValue?.first?.objectValue?["strings"] == .array([.string("part one"), .string("part two")]))
        }
    }

    @Test("an A query through a CNAME: the chain is in the details, only the A records are answers")
    func cnameChain() async throws {
        try await DNSTestBed.with { bed in
            let result = try await bed.plugin.check("alias.pinguin.test", try bed.local(#""exact":["192.0.2.1"]"#))
            #expect(result.status == .up, "\(result.message)")
            #expect(result.answerValues == ["www.pinguin.test", "192.0.2.1"])
            #expect(result.details["answer_count"] == .int(1))
        }
    }

    @Test("expected answers: all_of, any_of, none_of, exact and min_count, normalized as dig writes them")
    func expectations() async throws {
        try await DNSTestBed.with { bed in
            let passing = [
                #""all_of":["192.0.2.10","192.0.2.12"]"#, #""any_of":["192.0.2.99","192.0.2.11"]"#, #""none_of":["192.0.2.99"]"#,
                #""exact":["192.0.2.12","192.0.2.11","192.0.2.10"]"#, #""min_count":3"#,
            ]
            for extra in passing {
                let result = try await bed.plugin.check("multi.pinguin.test", try bed.local(extra))
                #expect(result.status == .up, "\(extra): \(result.message)")
                #expect(result.message.hasPrefix("multi.pinguin.test A: 3 answers ("), "\(result.message)")
            }
            let failing: [(String, String, String)] = [
                (#""all_of":["192.0.2.10","192.0.2.13"]"#, "answer_mismatch",
                 "multi.pinguin.test A: missing 192.0.2.13 (all_of); answers: "),
                (#""any_of":["192.0.2.98","192.0.2.99"]"#, "answer_mismatch",
                 "multi.pinguin.test A: none of 192.0.2.98, 192.0.2.99 in the answers (any_of); answers: "),
                (#""none_of":["192.0.2.11"]"#, "answer_mismatch",
                 "multi.pinguin.test A: unwanted 192.0.2.11 in the answers (none_of); answers: "),
                (#""exact":["192.0.2.10","192.0.2.11","192.0.2.20"]"#, "answer_mismatch",
                 "multi.pinguin.test A: answers are not exactly the expected set: missing 192.0.2.20, unexpected 192.0.2.12; answers: "),
                (#""min_count":4"#, "too_few_answers", "multi.pinguin.test A: 3 answers, expected at least 4; answers: "),
            ]
            for (extra, kind, message) in failing {
                let result = try await bed.plugin.check("multi.pinguin.test", try bed.local(extra))
                #expect(result.status == .down, "\(extra): \(result.message)")
                #expect(result.errorKind == kind, "\(extra)")
                #expect(result.message.hasPrefix(message), "\(extra): \(result.message)")
            }
            // Values as users write them: upper case, final dots, zeros, unquoted CAA values.
            let written: [(String, String, String)] = [
                ("www.pinguin.test", "AAAA", #""exact":["2001:DB8:0:0::0001"]"#),
                ("pinguin.test", "MX", #""all_of":["010 MAIL.pinguin.test."]"#),
                ("pinguin.test", "CAA", #""exact":["0 ISSUE letsencrypt.org"]"#),
                ("_sip._udp.pinguin.test", "SRV", #""any_of":["10 5 5060 SIP.pinguin.test."]"#),
                ("pinguin.test", "SOA", #""exact":["ns.pinguin.test. hostmaster.pinguin.test. 2024052001 1200 180 1209600 1234"]"#),
                ("pinguin.test", "TXT", #""exact":["v=spf1 -all"]"#),
                ("pinguin.test", "NS", #""exact":["NS.Pinguin.Test."]"#),
            ]
            for (target, type, extra) in written {
                let result = try await bed.plugin.check(target, try bed.local(#""record_type":"\#(type)","# + extra))
                #expect(result.status == .up, "\(type) \(extra): \(result.message)")
            }
        }
    }

    @Test("no answer: NOERROR without records is no_answer, unless min_count is 0")
    func noAnswer() async throws {
        try await DNSTestBed.with { bed in
            let result = try await bed.plugin.check("www.pinguin.test", try bed.local(#""record_type":"MX""#))
            #expect(result.status == .down, "\(result.message)")
            #expect(result.errorKind == "no_answer")
            #expect(result.message == "www.pinguin.test MX: no answer, expected at least 1")
            #expect(result.details["rcode"] == .string("NOERROR"))
            let allowed = try await bed.plugin.check("www.pinguin.test", try bed.local(#""record_type":"MX","min_count":0"#))
            #expect(allowed.status == .up, "\(allowed.message)")
            #expect(allowed.message.hasPrefix("www.pinguin.test MX: 0 answers in "), "\(allowed.message)")
        }
    }

    @Test("response codes: NXDOMAIN, SERVFAIL, REFUSED and others are down with their own error kinds, unless accepted")
    func responseCodes() async throws {
        try await DNSTestBed.with { bed in
            let nx = try await bed.plugin.check("nope.pinguin.test", try bed.local())
            #expect(nx.status == .down)
            #expect(nx.errorKind == "nxdomain")
            #expect(nx.message == "nope.pinguin.test A: NXDOMAIN from 127.0.0.1:\(bed.dnsmasq.port) (udp), expected NOERROR")
            #expect(nx.details["rcode"] == .string("NXDOMAIN"))
            #expect(nx.details["soa_serial"] == .int(DNSMasq.serial), "the negative answer's SOA: \(nx.details)")

            let acceptedNX = try await bed.plugin.check("nope.pinguin.test", try bed.local(#""rcodes":["NXDOMAIN"]"#))
            #expect(acceptedNX.status == .up)
            #expect(acceptedNX.errorKind == nil)
            #expect(acceptedNX.message.hasPrefix("nope.pinguin.test A: NXDOMAIN as accepted in "), "\(acceptedNX.message)")

            let unexpectedNoError = try await bed.plugin.check("www.pinguin.test", try bed.local(#""rcodes":["NXDOMAIN"]"#))
            #expect(unexpectedNoError.status == .down)
            #expect(unexpectedNoError.errorKind == "rcode_mismatch")
            #expect(unexpectedNoError.message == "www.pinguin.test A: NOERROR from 127.0.0.1:\(bed.dnsmasq.port) (udp), expected NXDOMAIN")

            let port = bed.responder.port
            let odd: [(String, String, String, String)] = [
                ("servfail.odd.test", "", "servfail", "servfail.odd.test A: SERVFAIL from 127.0.0.1:\(port) (udp), expected NOERROR"),
                ("refused.odd.test", "", "refused", "refused.odd.test A: REFUSED from 127.0.0.1:\(port) (udp), expected NOERROR"),
                ("notimp.odd.test", #""rcodes":["NOERROR","NXDOMAIN"]"#, "rcode_mismatch",
                 "notimp.odd.test A: NOTIMP from 127.0.0.1:\(port) (udp), expected NOERROR, NXDOMAIN"),
            ]
            for (target, extra, kind, message) in odd {
                let result = try await bed.plugin.check(target, try bed.odd(extra))
                #expect(result.status == .down, "\(target): \(result.message)")
                #expect(result.errorKind == kind)
                #expect(result.message == message)
            }
            let acceptedServfail = try await bed.plugin.check("servfail.odd.test", try bed.odd(#""rcodes":["SERVFAIL","REFUSED"]"#))
            #expect(acceptedServfail.status == .up)
            #expect(acceptedServfail.message.hasPrefix("servfail.odd.test A: SERVFAIL as accepted in "), "\(acceptedServfail.message)")
        }
    }

    @Test("protocol tcp: the query goes over TCP (to dnsmasq and to a slow responder)")
    func tcp() async throws {
        try await DNSTestBed.with { bed in
            let result = try await bed.plugin.check("www.pinguin.test", try bed.local(#""protocol":"tcp","exact":["192.0.2.1"]"#))
            #expect(result.status == .up, "\(result.message)")
            #expect(result.details["protocol"] == .string("tcp"))
            let slow = try await bed.plugin.check("slow-200.odd.test", try bed.odd(#""protocol":"tcp""#))
            #expect(slow.status == .up, "\(slow.message)")
            #expect((slow.latencyMilliseconds ?? 0) >= 190)
            // Nothing listens on TCP there: refused, not a timeout.
            let closedPort = try freePort()
            let refused = try await bed.plugin.check("www.pinguin.test", try bed.config(port: closedPort, #""protocol":"tcp","timeout_ms":3000"#))
            #expect(refused.status == .down, "\(refused.message)")
            #expect(refused.errorKind == "connection_refused", "\(refused.message)")
            #expect(refused.message.hasPrefix("www.pinguin.test A: the resolver refused the connection or is unreachable (127.0.0.1:\(closedPort) (tcp), after "), "\(refused.message)")
        }
    }

    @Test("protocol: one name answers 192.0.2.51 over UDP and 192.0.2.52 over TCP; a truncated UDP answer is retried over TCP")
    func protocolEffect() async throws {
        try await DNSTestBed.with { bed in
            let udp = try await bed.plugin.check("transport.odd.test", try bed.odd(#""protocol":"udp""#))
            #expect(udp.status == .up, "\(udp.message)")
            #expect(udp.answerValues == ["192.0.2.51"])
            #expect(udp.details["protocol"] == .string("udp"))
            let byDefault = try await bed.plugin.check("transport.odd.test", try bed.odd())
            #expect(byDefault.answerValues == ["192.0.2.51"])
            let tcp = try await bed.plugin.check("transport.odd.test", try bed.odd(#""protocol":"tcp""#))
            #expect(tcp.status == .up, "\(tcp.message)")
            #expect(tcp.answerValues == ["192.0.2.52"])
            #expect(tcp.details["protocol"] == .string("tcp"))
            // Over UDP the responder sets TC and gives 192.0.2.61 only; the full answer comes over TCP.
            let truncated = try await bed.plugin.check("truncated.odd.test", try bed.odd(#""exact":["192.0.2.62","192.0.2.63"]"#))
            #expect(truncated.status == .up, "\(truncated.message)")
            #expect(Set(truncated.answerValues) == ["192.0.2.62", "192.0.2.63"])
            #expect(truncated.details["protocol"] == .string("udp"))
        }
    }

    @Test("details authoritative, recursion_available and authority are the response's; records_truncated past 100 records")
    func responseDetails() async throws {
        try await DNSTestBed.with { bed in
            // The responder's plain answer: AA set, RA clear, no authority section.
            let plain = try await bed.plugin.check("plain.odd.test", try bed.odd())
            #expect(plain.details["authoritative"] == .bool(true))
            #expect(plain.details["recursion_available"] == .bool(false))
            #expect(plain.details["authority"] == nil)
            #expect(plain.details["records_truncated"] == nil)
            // AA clear, RA set, an NS record in the authority section.
            let recursive = try await bed.plugin.check("recursive.odd.test", try bed.odd())
            #expect(recursive.status == .up, "\(recursive.message)")
            #expect(recursive.details["authoritative"] == .bool(false))
            #expect(recursive.details["recursion_available"] == .bool(true))
            let authority = recursive.details["authority"]?.arrayValue ?? []
            #expect(authority.count == 1, "\(recursive.details)")
            let ns = authority.first?.objectValue
            #expect(ns?["name"] == .string("odd.test"))
            #expect(ns?["type"] == .string("NS"))
            #expect(ns?["ttl"] == .int(300))
            #expect(ns?["value"] == .string("ns.odd.test"))
            // dnsmasq's NXDOMAIN for its own zone: authoritative, with the zone's SOA as authority.
            let nx = try await bed.plugin.check("nope.pinguin.test", try bed.local(#""rcodes":["NXDOMAIN"]"#))
            #expect(nx.details["authoritative"] == .bool(true))
            let soa = nx.details["authority"]?.arrayValue?.first?.objectValue
            #expect(soa?["type"] == .string("SOA"), "\(nx.details)")
            #expect(soa?["name"] == .string("pinguin.test"))
            #expect(soa?["value"]?.stringValue?.hasPrefix("ns.pinguin.test hostmaster.pinguin.test \(DNSMasq.serial) ") == true, "\(nx.details)")
            // 101 A records (over TCP, after a truncated UDP answer): 100 listed, all counted.
            let many = try await bed.plugin.check("many.odd.test", try bed.odd(#""min_count":101"#))
            #expect(many.status == .up, "\(many.message)")
            #expect(many.message.hasPrefix("many.odd.test A: 101 answers (198.51.100.0, 198.51.100.1, 198.51.100.2, 198.51.100.3, 97 more) in "), "\(many.message)")
            #expect(many.details["answer_count"] == .int(101))
            #expect(many.answerValues.count == 100)
            #expect(many.details["records_truncated"] == .bool(true))
        }
    }

    @Test("a key that is not an option (a misspelling) is a JSON-RPC error naming it, never ignored")
    func unknownKey() async throws {
        try await DNSTestBed.with { bed in
            // Ignored, timout_ms would leave the lookup to the check's timeout and answer.
            guard case .failure(let error) = try await bed.plugin.run("www.pinguin.test", try bed.local(#""timout_ms":1"#)) else {
                Issue.record("a config with timout_ms was checked")
                return
            }
            #expect(error.code == -32602)
            #expect(error.kind == "invalid_config")
            #expect(error.message == "config.timout_ms is not an option of the dns kind")
        }
    }

    @Test("resolver over IPv6 (::1), shown as [::1]:port")
    func ipv6Resolver() async throws {
        try await DNSTestBed.with { bed in
            let result = try await bed.plugin.check("www.pinguin.test", try bed.config(port: bed.dnsmasq.port, resolver: "0:0::1", ""))
            #expect(result.status == .up, "\(result.message)")
            #expect(result.details["resolver"] == .string("[::1]:\(bed.dnsmasq.port)"))
        }
    }

    @Test("timeout: a resolver that never answers is down (timeout) within timeout_ms, or within the check's own timeout")
    func timeout() async throws {
        try await DNSTestBed.with { bed in
            let started = ContinuousClock.now
            let result = try await bed.plugin.check("drop.odd.test", try bed.odd(#""timeout_ms":300"#))
            let elapsed = started.duration(to: .now)
            #expect(result.status == .down)
            #expect(result.errorKind == "timeout")
            #expect(result.message == "drop.odd.test A: no answer from 127.0.0.1:\(bed.responder.port) (udp) within 300 ms")
            #expect(elapsed < .seconds(2))
            #expect((result.latencyMilliseconds ?? 0) >= 295)

            // Without timeout_ms the lookup ends a tenth before the supervisor's deadline: a down
            // target, never a plugin that missed its deadline.
            let implicit = try await bed.plugin.check("drop.odd.test", try bed.odd(), timeout: .seconds(1))
            #expect(implicit.status == .down)
            #expect(implicit.errorKind == "timeout")
            #expect(implicit.message.hasPrefix("drop.odd.test A: no answer from 127.0.0.1:\(bed.responder.port) (udp) within "), "\(implicit.message)")
            #expect((800...1000).contains(implicit.latencyMilliseconds ?? 0), "\(implicit.latencyMilliseconds ?? 0)")

            // A slow answer within the time is fine.
            let slow = try await bed.plugin.check("slow-400.odd.test", try bed.odd(#""timeout_ms":2000"#))
            #expect(slow.status == .up, "\(slow.message)")
            #expect(slow.answerValues == ["192.0.2.77"])
        }
    }

    @Test("degraded_ms: a slower answer is degraded (slow); a faster one up")
    func degraded() async throws {
        try await DNSTestBed.with { bed in
            let slow = try await bed.plugin.check("slow-300.odd.test", try bed.odd(#""degraded_ms":100"#))
            #expect(slow.status == .degraded)
            #expect(slow.errorKind == "slow")
            #expect(slow.message.hasPrefix("slow-300.odd.test A: 1 answer (192.0.2.77) in "), "\(slow.message)")
            #expect(slow.message.hasSuffix(" ms, slower than 100 ms"), "\(slow.message)")
            let fast = try await bed.plugin.check("slow-10.odd.test", try bed.odd(#""degraded_ms":1000"#))
            #expect(fast.status == .up, "\(fast.message)")
            // A failing answer stays down however slow it is.
            let both = try await bed.plugin.check("slow-300.odd.test", try bed.odd(#""degraded_ms":100,"exact":["192.0.2.1"]"#))
            #expect(both.status == .down)
            #expect(both.errorKind == "answer_mismatch")
        }
    }

    @Test("a malformed response is down (bad_response), naming the byte")
    func malformed() async throws {
        try await DNSTestBed.with { bed in
            let result = try await bed.plugin.check("garbage.odd.test", try bed.odd())
            #expect(result.status == .down)
            #expect(result.errorKind == "bad_response")
            #expect(result.message.hasPrefix("garbage.odd.test A: unreadable response from 127.0.0.1:\(bed.responder.port) (udp): malformed DNS message at byte "), "\(result.message)")
        }
    }

    @Test("configs the schema cannot rule out are JSON-RPC errors (unknown), never down")
    func invalidConfig() async throws {
        try await DNSTestBed.with { bed in
            let cases: [(String, String, String)] = [
                ("www.pinguin.test", #"{"resolver":"dns.example"}"#, "resolver must be an IPv4 or IPv6 address, not dns.example"),
                ("bad..name", "{}", "the target must be a domain name of at most 253 characters (printable ASCII, no empty labels), not bad..name"),
                ("www.pinguin.test", #"{"record_type":"HINFO"}"#, "record_type must be one of A, AAAA, CNAME, MX, NS, TXT, SOA, SRV, PTR, CAA"),
            ]
            for (target, config, message) in cases {
                guard case .failure(let error) = try await bed.plugin.run(target, try JSONParser.parse(config).objectValue!) else {
                    Issue.record("\(config) was checked")
                    continue
                }
                #expect(error.code == -32602)
                #expect(error.message == message)
            }
        }
    }

    @Test("many checks at once over one process: each answered right, a slow or silent resolver holds up nobody")
    func concurrency() async throws {
        try await DNSTestBed.with { bed in
            let plugin = bed.plugin
            let configs = [
                ("www.pinguin.test", try bed.local(#""exact":["192.0.2.1"]"#), PluginCheckResult.Status.up),
                // TCP to the responder: dnsmasq drops a TCP connection that carries ~50 pipelined
                // queries, and c-ares 1.18 then ends them with ECONNREFUSED (see the report).
                ("tcp.odd.test", try bed.odd(#""protocol":"tcp","exact":["192.0.2.99"]"#), .up),
                ("ok.odd.test", try bed.odd(#""exact":["192.0.2.99"]"#), .up),
                ("nope.pinguin.test", try bed.local(), .down),
                ("drop.odd.test", try bed.odd(#""timeout_ms":1500"#), .down),
                ("slow-500.odd.test", try bed.odd(), .up),
            ]
            let started = ContinuousClock.now
            let results = try await withThrowingTaskGroup(of: (Int, PluginCheckResult).self) { group in
                for index in 0..<300 {
                    let (target, config, _) = configs[index % configs.count]
                    group.addTask { (index, try await plugin.check(target, config)) }
                }
                var results: [Int: PluginCheckResult] = [:]
                for try await (index, result) in group { results[index] = result }
                return results
            }
            #expect(results.count == 300)
            for (index, result) in results {
                #expect(result.status == configs[index % configs.count].2, "\(index): \(result.message)")
            }
            let fast = results.filter { $0.key % configs.count < 4 }.map { $0.value.latencyMilliseconds ?? 0 }
            #expect(fast.allSatisfy { $0 < 1000 }, "fast lookups waited: max \(fast.max() ?? 0) ms")
            #expect(started.duration(to: .now) < .seconds(10))
        }
    }
}
