import CAres
import PinguinDNS
import Testing

@Suite("DNS message reader")
struct DNSMessageTests {
    @Test("header flags, the question and an A answer with its TTL")
    func header() throws {
        var builder = DNSMessageBuilder(flags: 0x8583, answers: 1)
        builder.question("WWW.Example.test", type: 1)
        builder.record("www.example.test", type: 1, ttl: 3600) { $0.bytes += [192, 0, 2, 1] }
        let message = try DNSMessage(parsing: builder.bytes)
        #expect(message.id == 0x1234)
        #expect(message.isResponse && message.isAuthoritative && message.recursionDesired && message.recursionAvailable)
        #expect(!message.isTruncated)
        #expect(message.responseCode == .nameError)
        #expect(message.responseCode.description == "NXDOMAIN")
        #expect(message.questions == [.init(name: "www.example.test", type: .a)])
        #expect(message.answers == [DNSRecord(name: "www.example.test", type: .a, ttl: 3600, data: .a("192.0.2.1"))])
    }

    @Test("every record type Pinguin checks, in presentation form")
    func recordTypes() throws {
        var builder = DNSMessageBuilder(answers: 11)
        builder.question("example.test", type: 255)
        builder.record("example.test", type: 28) { $0.bytes += [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 10) + [0, 1] }
        builder.record("example.test", type: 28) { $0.bytes += [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1] }
        builder.record("alias.example.test", type: 5) { $0.name("Target.Example.test") }
        builder.record("example.test", type: 15) { $0.u16(10); $0.name("mail.example.test") }
        builder.record("example.test", type: 2) { $0.name("ns1.example.test") }
        builder.record("example.test", type: 16) { $0.u8(3); $0.bytes += Array("abc".utf8); $0.u8(0); $0.u8(2); $0.bytes += Array("de".utf8) }
        builder.record("example.test", type: 6) {
            $0.name("ns1.example.test"); $0.name("hostmaster.example.test")
            for value: UInt32 in [2024010101, 7200, 900, 1209600, 300] { $0.u32(value) }
        }
        builder.record("_sip._tcp.example.test", type: 33) { $0.u16(10); $0.u16(5); $0.u16(5060); $0.name("sip.example.test") }
        builder.record("1.2.0.192.in-addr.arpa", type: 12) { $0.name("host.example.test") }
        builder.record("example.test", type: 257) { $0.u8(128); $0.u8(5); $0.bytes += Array("issue".utf8) + Array("ca.example".utf8) }
        builder.record("example.test", type: 99) { $0.bytes += [0xde, 0xad] }
        let message = try DNSMessage(parsing: builder.bytes)
        #expect(message.answers.map(\.value) == [
            "2001:db8::1", "2001:db8:0:1::1", "target.example.test", "10 mail.example.test", "ns1.example.test", "abcde",
            "ns1.example.test hostmaster.example.test 2024010101 7200 900 1209600 300", "10 5 5060 sip.example.test",
            "host.example.test", #"128 issue "ca.example""#, ##"\# 2 dead"##,
        ])
        #expect(message.answers[5].data == .txt(["abc", "", "de"]))
        #expect(message.answers.map(\.type.description) == ["AAAA", "AAAA", "CNAME", "MX", "NS", "TXT", "SOA", "SRV", "PTR", "CAA", "TYPE99"])
    }

    @Test("compressed names follow their pointers; a pointer loop or forward pointer is refused")
    func compression() throws {
        var builder = DNSMessageBuilder(answers: 1)
        builder.question("example.test", type: 15)
        // Owner: pointer to the question name at 12; exchange: "mail" + pointer to it.
        builder.bytes += [0xC0, 12]
        builder.u16(15); builder.u16(1); builder.u32(60); builder.u16(9)
        builder.u16(5); builder.u8(4); builder.bytes += Array("mail".utf8); builder.bytes += [0xC0, 12]
        let message = try DNSMessage(parsing: builder.bytes)
        #expect(message.answers.first?.value == "5 mail.example.test")
        #expect(message.answers.first?.name == "example.test")

        var looping = DNSMessageBuilder(answers: 0)
        looping.bytes += [0xC0, 12, 0, 1, 0, 1]
        #expect(throws: DNSMessageError(offset: 12, reason: "a compression pointer in the question does not point backwards")) {
            try DNSMessage(parsing: looping.bytes)
        }
    }

    @Test("malformed messages say where and why")
    func malformed() {
        #expect(throws: DNSMessageError(offset: 4, reason: "the header ends early")) { try DNSMessage(parsing: [0, 1, 0x81, 0x80, 0]) }
        var short = DNSMessageBuilder(answers: 1)
        short.question("a.test", type: 1)
        short.record("a.test", type: 1) { $0.bytes += [1, 2, 3] }
        #expect(throws: DNSMessageError(offset: 42, reason: "an A record has 3 bytes of data, not 4")) { try DNSMessage(parsing: short.bytes) }
        var cut = DNSMessageBuilder(answers: 1)
        cut.question("a.test", type: 1)
        cut.record("a.test", type: 1) { $0.bytes += [1, 2, 3, 4] }
        cut.bytes.removeLast()
        #expect(throws: DNSMessageError(offset: 42, reason: "the data of a A record in the answer section ends early")) { try DNSMessage(parsing: cut.bytes) }
        var caa = DNSMessageBuilder(answers: 1)
        caa.question("a.test", type: 257)
        caa.record("a.test", type: 257) { $0.u8(0); $0.u8(9); $0.bytes += Array("iss".utf8) }
        #expect(throws: DNSMessageError(offset: 44, reason: "a CAA tag length of 9 does not fit its record")) { try DNSMessage(parsing: caa.bytes) }
    }

    @Test("an OPT record extends the response code (BADVERS is 16)")
    func extendedResponseCode() throws {
        var builder = DNSMessageBuilder(answers: 0, additionals: 1)
        builder.question("a.test", type: 1)
        builder.bytes += [0]   // root owner
        builder.u16(41); builder.u16(1232); builder.u32(0x0100_0000); builder.u16(0)
        let message = try DNSMessage(parsing: builder.bytes)
        #expect(message.responseCode.rawValue == 16)
        #expect(message.responseCode.description == "RCODE16")
    }

    @Test("labels with dots, backslashes and unprintable bytes are escaped")
    func escapes() throws {
        var builder = DNSMessageBuilder(answers: 1)
        builder.question("a.test", type: 12)
        builder.record("a.test", type: 12) { $0.u8(4); $0.bytes += [UInt8(ascii: "a"), UInt8(ascii: "."), 0x5C, 0x07]; $0.u8(0) }
        #expect(try DNSMessage(parsing: builder.bytes).answers.first?.value == #"a\.\\\007"#)
    }

    @Test("the reader agrees with c-ares' own parsers on MX, SRV, TXT, SOA and CAA")
    func agreesWithCAres() throws {
        func message(_ type: UInt16, _ write: (inout DNSMessageBuilder) -> Void) -> [UInt8] {
            var builder = DNSMessageBuilder(answers: 1)
            builder.question("example.test", type: type)
            builder.record("example.test", type: type, write)
            return builder.bytes
        }
        let mx = message(15) { $0.u16(20); $0.name("mx.example.test") }
        var mxReply: UnsafeMutablePointer<ares_mx_reply>?
        #expect(ares_parse_mx_reply(mx, Int32(mx.count), &mxReply) == ARES_SUCCESS)
        defer { ares_free_data(mxReply) }
        let mxValue = "\(mxReply!.pointee.priority) \(String(cString: mxReply!.pointee.host))"
        #expect(try DNSMessage(parsing: mx).answers.first?.value == mxValue)

        let srv = message(33) { $0.u16(1); $0.u16(2); $0.u16(443); $0.name("t.example.test") }
        var srvReply: UnsafeMutablePointer<ares_srv_reply>?
        #expect(ares_parse_srv_reply(srv, Int32(srv.count), &srvReply) == ARES_SUCCESS)
        defer { ares_free_data(srvReply) }
        let s = srvReply!.pointee
        #expect(try DNSMessage(parsing: srv).answers.first?.value == "\(s.priority) \(s.weight) \(s.port) \(String(cString: s.host))")

        let txt = message(16) { $0.u8(5); $0.bytes += Array("hello".utf8); $0.u8(5); $0.bytes += Array("world".utf8) }
        var txtReply: UnsafeMutablePointer<ares_txt_reply>?
        #expect(ares_parse_txt_reply(txt, Int32(txt.count), &txtReply) == ARES_SUCCESS)
        defer { ares_free_data(txtReply) }
        var strings: [String] = []
        var node = txtReply
        while let current = node {
            strings.append(String(decoding: UnsafeBufferPointer(start: current.pointee.txt, count: current.pointee.length), as: UTF8.self))
            node = current.pointee.next
        }
        #expect(try DNSMessage(parsing: txt).answers.first?.data == .txt(strings))

        let soa = message(6) {
            $0.name("ns.example.test"); $0.name("admin.example.test")
            for value: UInt32 in [7, 8, 9, 10, 11] { $0.u32(value) }
        }
        var soaReply: UnsafeMutablePointer<ares_soa_reply>?
        #expect(ares_parse_soa_reply(soa, Int32(soa.count), &soaReply) == ARES_SUCCESS)
        defer { ares_free_data(soaReply) }
        let o = soaReply!.pointee
        #expect(try DNSMessage(parsing: soa).answers.first?.value
            == "\(String(cString: o.nsname)) \(String(cString: o.hostmaster)) \(o.serial) \(o.refresh) \(o.retry) \(o.expire) \(o.minttl)")

        let caa = message(257) { $0.u8(0); $0.u8(5); $0.bytes += Array("iodef".utf8) + Array("mailto:a@example.test".utf8) }
        var caaReply: UnsafeMutablePointer<ares_caa_reply>?
        #expect(ares_parse_caa_reply(caa, Int32(caa.count), &caaReply) == ARES_SUCCESS)
        defer { ares_free_data(caaReply) }
        let c = caaReply!.pointee
        let tag = String(decoding: UnsafeBufferPointer(start: c.property, count: c.plength), as: UTF8.self)
        let value = String(decoding: UnsafeBufferPointer(start: c.value, count: c.length), as: UTF8.self)
        #expect(try DNSMessage(parsing: caa).answers.first?.value == "\(c.critical) \(tag) \"\(value)\"")
    }
}

@Suite("DNS presentation and expectations")
struct DNSPresentationTests {
    @Test("user-written values are normalized per type")
    func normalize() {
        #expect(DNSPresentation.normalize(" 2001:DB8:0:0:0:0:0:1 ", as: .aaaa) == "2001:db8::1")
        #expect(DNSPresentation.normalize("::ffff:192.0.2.1", as: .aaaa) == "::ffff:c000:201")
        #expect(DNSPresentation.normalize("192.0.2.1", as: .a) == "192.0.2.1")
        #expect(DNSPresentation.normalize("Host.Example.", as: .cname) == "host.example")
        #expect(DNSPresentation.normalize("010  Mail.Example.", as: .mx) == "10 mail.example")
        #expect(DNSPresentation.normalize("0 10 443 T.example.", as: .srv) == "0 10 443 t.example")
        #expect(DNSPresentation.normalize("0 Issue ca.example", as: .caa) == #"0 issue "ca.example""#)
        #expect(DNSPresentation.normalize(#"128 iodef "mailto:a b""#, as: .caa) == #"128 iodef "mailto:a b""#)
        #expect(DNSPresentation.normalize("NS. Host. 01 2 3 4 5", as: .soa) == "ns host 1 2 3 4 5")
        #expect(DNSPresentation.normalize("  Keep Me  ", as: .txt) == "  Keep Me  ")
        #expect(DNSPresentation.normalize("not an address", as: .a) == "not an address")
    }

    @Test("reverse names for PTR")
    func reverse() {
        #expect(DNSPresentation.reverseName("192.0.2.5") == "5.2.0.192.in-addr.arpa")
        #expect(DNSPresentation.reverseName("2001:db8::1") == "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa")
        #expect(DNSPresentation.reverseName("host.example") == nil)
    }

    @Test("expectations, in order: count, exact, all_of, any_of, none_of")
    func expectations() {
        let answers = ["a", "b", "c"]
        #expect(DNSAnswerExpectations().check(answers) == nil)
        #expect(DNSAnswerExpectations().check([])?.errorKind == "no_answer")
        #expect(DNSAnswerExpectations(minimumCount: 0).check([]) == nil)
        #expect(DNSAnswerExpectations(minimumCount: 4).check(answers)?.reason == "3 answers, expected at least 4; answers: a, b, c")
        #expect(DNSAnswerExpectations(exactly: ["c", "b", "a", "a"]).check(answers) == nil)
        #expect(DNSAnswerExpectations(exactly: ["a", "d"]).check(answers)?.reason
            == "answers are not exactly the expected set: missing d, unexpected b, c; answers: a, b, c")
        #expect(DNSAnswerExpectations(allOf: ["a", "x", "x"]).check(answers)?.reason == "missing x (all_of); answers: a, b, c")
        #expect(DNSAnswerExpectations(anyOf: ["x", "c"]).check(answers) == nil)
        #expect(DNSAnswerExpectations(anyOf: ["x", "y"]).check(answers)?.reason == "none of x, y in the answers (any_of); answers: a, b, c")
        #expect(DNSAnswerExpectations(noneOf: ["x", "b"]).check(answers)?.reason == "unwanted b in the answers (none_of); answers: a, b, c")
        #expect(DNSAnswerExpectations(noneOf: ["x"]).check(answers) == nil)
        let many = (1...10).map(String.init)
        #expect(DNSAnswerExpectations(minimumCount: 11).check(many)?.reason == "10 answers, expected at least 11; answers: 1, 2, 3, 4, 5, 6, 7, 8 and 2 more")
    }

    @Test("record types and response codes by mnemonic")
    func mnemonics() {
        #expect(DNSRecordType(mnemonic: "caa") == .caa)
        #expect(DNSRecordType(mnemonic: "TYPE65")?.rawValue == 65)
        #expect(DNSRecordType(mnemonic: "bogus") == nil)
        #expect(DNSResponseCode(mnemonic: "nxdomain") == .nameError)
        #expect(DNSResponseCode(mnemonic: "NOTZONE")?.rawValue == 10)
        #expect(DNSResponseCode(mnemonic: "BADVERS") == nil)
    }
}
