import Foundation
import PinguinPluginHost
import PinguinWire
import Testing

/// Every option of pinguin-check-http against the local nginx fixture, through the protocol.
@Suite("pinguin-check-http", .timeLimit(.minutes(2)))
struct HTTPCheckTests {
    typealias Failure = HTTPPlugin.Failure

    func fixture() async throws -> HTTPFixture { try await HTTPFixture.shared.value }

    func run(_ target: String, _ config: String = "{}", timeout: Int = 8000) async throws -> PluginCheckResult {
        try await HTTPPlugin.result(target, config, timeout: timeout)
    }

    func expect(_ result: PluginCheckResult, _ status: PluginCheckResult.Status, _ kind: String?, _ message: String,
                sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status == status, "\(result)", sourceLocation: sourceLocation)
        #expect(result.errorKind == kind, "\(result)", sourceLocation: sourceLocation)
        #expect(result.message.contains(message), "\(result.message)", sourceLocation: sourceLocation)
    }

    @Test("a plain GET is up, with status, version, address and phase timings")
    func plainGet() async throws {
        let f = try await fixture()
        let result = try await run("http://127.0.0.1:\(f.plain)/")
        expect(result, .up, nil, "200 OK in ")
        #expect(result.details["status_code"] == .int(200))
        #expect(result.details["http_version"] == .string("1.1"))
        #expect(result.details["resolved_ip"] == .string("127.0.0.1"))
        #expect(result.details["new_connections"] == .int(1))
        for phase in ["dns", "connect", "first_byte", "transfer"] { #expect(result.phases[phase] != nil, "\(phase) in \(result.phases)") }
        let refused = try await run("http://127.0.0.1:1/")
        expect(refused, .down, "refused", "connection refused by 127.0.0.1")
    }

    @Test("accepted_status: codes and ranges, default 200-399")
    func acceptedStatus() async throws {
        let f = try await fixture()
        expect(try await run("http://127.0.0.1:\(f.plain)/notfound"), .down, "status_mismatch", "status 404 Not Found, expected 200-399")
        expect(try await run("http://127.0.0.1:\(f.plain)/notfound", #"{"accepted_status":["404"]}"#), .up, nil, "404 Not Found in")
        expect(try await run("http://127.0.0.1:\(f.plain)/error", #"{"accepted_status":[200,"500-503"]}"#), .up, nil, "503")
        expect(try await run("http://127.0.0.1:\(f.plain)/", #"{"accepted_status":["300-399"]}"#), .down, "status_mismatch", "status 200 OK, expected 300-399")
    }

    @Test("method, headers, body and user_agent reach the server")
    func requestShape() async throws {
        let f = try await fixture()
        let post = try await run("http://127.0.0.1:\(f.plain)/echo", #"""
            {"method":"POST","body":"hello","headers":{"Content-Type":"text/plain","X-Test":"abc"},"user_agent":"probe/2",
             "expect_body":{"contains":"got=hello ct=text/plain x=abc host=127.0.0.1 ua=probe/2 m=POST"}}
            """#)
        expect(post, .up, nil, "200 OK")
        // PATCH carries its body; the echo also shows the default User-Agent.
        let patch = try await run("http://127.0.0.1:\(f.plain)/echo", #"""
            {"method":"PATCH","body":"{\"a\":1}","headers":{"Content-Type":"application/merge-patch+json"},
             "expect_body":{"contains":"got={\"a\":1} ct=application/merge-patch+json x= host=127.0.0.1 ua=pinguin-check-http/1.0 m=PATCH\n"}}
            """#)
        expect(patch, .up, nil, "200 OK")
        expect(try await run("http://127.0.0.1:\(f.plain)/method", #"{"method":"OPTIONS","expect_body":{"contains":"method=OPTIONS"}}"#), .up, nil, "200")
        expect(try await run("http://127.0.0.1:\(f.plain)/method", #"{"method":"OPTIONS","expect_body":{"contains":"method=GET"}}"#), .down, "body_mismatch", "method=GET")
        expect(try await run("http://127.0.0.1:\(f.plain)/method", #"{"method":"PUT","expect_body":{"contains":"method=PUT"}}"#), .up, nil, "200")
        expect(try await run("http://127.0.0.1:\(f.plain)/method", #"{"method":"DELETE","expect_body":{"contains":"method=DELETE"}}"#), .up, nil, "200")
        let head = try await run("http://127.0.0.1:\(f.plain)/method", #"{"method":"HEAD"}"#)
        expect(head, .up, nil, "200 OK")
        #expect(head.details["body_bytes"] == .int(0))
    }

    @Test("a Host header sets the Host sent, not the address connected to")
    func hostHeader() async throws {
        let f = try await fixture()
        let url = "http://127.0.0.1:\(f.plain)/echo"
        expect(try await run(url, #"{"expect_body":{"contains":" host=127.0.0.1 "}}"#), .up, nil, "200 OK")
        let named = try await run(url, #"{"headers":{"Host":"pinguin.test"},"expect_body":{"contains":" host=pinguin.test "}}"#)
        expect(named, .up, nil, "200 OK")
        #expect(named.details["resolved_ip"] == .string("127.0.0.1"), "\(named.details)")
        #expect(named.details["url"] == .string(url), "\(named.details)")
    }

    @Test("expect_body: keyword, regex, invert")
    func bodyKeyword() async throws {
        let f = try await fixture()
        let url = "http://127.0.0.1:\(f.plain)/"
        expect(try await run(url, #"{"expect_body":{"contains":"pinguin"}}"#), .up, nil, "200 OK")
        expect(try await run(url, #"{"expect_body":{"contains":"penguin"}}"#), .down, "body_mismatch", #"the body does not contain "penguin""#)
        expect(try await run(url, #"{"expect_body":{"contains":"pinguin","invert":true}}"#), .down, "body_mismatch", #"the body contains "pinguin", which it must not"#)
        expect(try await run(url, #"{"expect_body":{"regex":"^hel+o [a-z]+"}}"#), .up, nil, "200 OK")
        expect(try await run(url, #"{"expect_body":{"regex":"[0-9]{3}"}}"#), .down, "body_mismatch", "the body does not match /[0-9]{3}/")
        expect(try await run(url, #"{"expect_body":{"regex":"[0-9]{3}","invert":true}}"#), .up, nil, "200 OK")
        guard case .error(let error) = try await HTTPPlugin.check(url, #"{"expect_body":{"regex":"(unclosed"}}"#) else { throw Failure(description: "a bad regex must be a config error") }
        #expect(error.code == -32602 && error.message.contains("config.expect_body.regex is not a valid regular expression"), "\(error)")
    }

    @Test("expect_json: typed comparisons; a missing path or another type fails with its own kind")
    func jsonAssertions() async throws {
        let f = try await fixture()
        let url = "http://127.0.0.1:\(f.plain)/json"
        let good = #"""
            {"expect_json":[{"path":"$.status","op":"eq","value":"ok"},{"path":"count","op":"gt","value":3},{"path":"$.ratio","op":"le","value":0.5},
             {"path":"$.ok","op":"eq","value":true},{"path":"$.nothing","type":"null"},{"path":"$.items","op":"contains","value":2},
             {"path":"$.items[2]","op":"eq","value":3},{"path":"$.name","op":"matches","value":"^pinguin-[0-9]$"},
             {"path":"$.nested.deep[\"value\"]","op":"ne","value":"y"},{"path":"$.count","type":"integer"}]}
            """#
        expect(try await run(url, good), .up, nil, "200 OK")
        expect(try await run(url, #"{"expect_json":[{"path":"$.missing"}]}"#), .down, "json_path_missing", #"JSON path $.missing does not exist: $ has no member "missing""#)
        expect(try await run(url, #"{"expect_json":[{"path":"$.items[7]","op":"eq","value":1}]}"#), .down, "json_path_missing", "$.items has 3 elements, so no element [7]")
        expect(try await run(url, #"{"expect_json":[{"path":"$.count.x"}]}"#), .down, "json_path_missing", #"$.count is a number, so it has no member "x""#)
        expect(try await run(url, #"{"expect_json":[{"path":"$.count","op":"eq","value":"5"}]}"#), .down, "json_type_mismatch", #"JSON $.count is a number (5), so it cannot be compared with a string ("5")"#)
        expect(try await run(url, #"{"expect_json":[{"path":"$.status","op":"gt","value":1}]}"#), .down, "json_type_mismatch", #"JSON $.status is a string ("ok"), so it cannot be compared with the number 1"#)
        expect(try await run(url, #"{"expect_json":[{"path":"$.ratio","type":"integer"}]}"#), .down, "json_type_mismatch", "JSON $.ratio is a number (0.5), expected an integer")
        expect(try await run(url, #"{"expect_json":[{"path":"$.count","op":"lt","value":3}]}"#), .down, "json_mismatch", "JSON $.count is 5, expected < 3")
        expect(try await run(url, #"{"expect_json":[{"path":"$.status","op":"eq","value":"down"}]}"#), .down, "json_mismatch", #"JSON $.status is "ok", expected "down""#)
        expect(try await run(url, #"{"expect_json":[{"path":"$.items","op":"contains","value":9}]}"#), .down, "json_mismatch", "expected to contain the element 9")
        // ge holds at the bound (where gt fails) and fails below it.
        expect(try await run(url, #"{"expect_json":[{"path":"$.count","op":"ge","value":5},{"path":"$.ratio","op":"ge","value":0.25}]}"#), .up, nil, "200 OK")
        expect(try await run(url, #"{"expect_json":[{"path":"$.count","op":"gt","value":5}]}"#), .down, "json_mismatch", "JSON $.count is 5, expected > 5")
        expect(try await run(url, #"{"expect_json":[{"path":"$.count","op":"ge","value":6}]}"#), .down, "json_mismatch", "JSON $.count is 5, expected >= 6")
        expect(try await run(url, #"{"expect_json":[{"path":"$.ratio","op":"ge","value":0.75}]}"#), .down, "json_mismatch", "JSON $.ratio is 0.5, expected >= 0.75")
        expect(try await run(url, #"{"expect_json":[{"path":"$.status","op":"ge","value":1}]}"#), .down, "json_type_mismatch", #"JSON $.status is a string ("ok"), so it cannot be compared with the number 1"#)
        guard case .error(let notNumber) = try await HTTPPlugin.check(url, #"{"expect_json":[{"path":"$.count","op":"ge","value":"6"}]}"#) else {
            throw Failure(description: "ge with a string value must be a config error, never a comparison with 0")
        }
        #expect(notNumber.code == -32602 && notNumber.message.contains("config.expect_json[0].value must be a number for op ge"), "\(notNumber)")
        // matches: a regex that does not match the string fails; one that matches part of it holds.
        expect(try await run(url, #"{"expect_json":[{"path":"$.name","op":"matches","value":"^penguin"}]}"#), .down, "json_mismatch", #"JSON $.name is "pinguin-7", expected to match /^penguin/"#)
        expect(try await run(url, #"{"expect_json":[{"path":"$.name","op":"matches","value":"[0-9]$"}]}"#), .up, nil, "200 OK")
        expect(try await run(url, #"{"expect_json":[{"path":"$.count","op":"matches","value":"5"}]}"#), .down, "json_type_mismatch", "JSON $.count is a number (5), so it cannot be compared with a regular expression")
        expect(try await run("http://127.0.0.1:\(f.plain)/", #"{"expect_json":[{"path":"$"}]}"#), .down, "json_invalid", "the body is not JSON")
    }

    @Test("expect_headers: equals, contains, regex, absent, missing")
    func headerAssertions() async throws {
        let f = try await fixture()
        let url = "http://127.0.0.1:\(f.plain)/headers"
        expect(try await run(url, #"{"expect_headers":[{"name":"x-pinguin","equals":"yes please"},{"name":"Cache-Control","contains":"no-"},{"name":"content-type","regex":"^text/"},{"name":"X-Absent","absent":true}]}"#), .up, nil, "200 OK")
        expect(try await run(url, #"{"expect_headers":[{"name":"X-Pinguin","equals":"no"}]}"#), .down, "header_mismatch", #"header X-Pinguin is "yes please", expected "no""#)
        expect(try await run(url, #"{"expect_headers":[{"name":"X-Other"}]}"#), .down, "header_missing", "header X-Other is missing")
        expect(try await run(url, #"{"expect_headers":[{"name":"X-Pinguin","absent":true}]}"#), .down, "header_mismatch", "header X-Pinguin is present, and must not be")
        expect(try await run(url, #"{"expect_headers":[{"name":"X-Pinguin","regex":"^no"}]}"#), .down, "header_mismatch", "which does not match /^no/")
    }

    @Test("redirects: followed, not followed, limited; never to file:// or another scheme")
    func redirects() async throws {
        let f = try await fixture()
        let base = "http://127.0.0.1:\(f.plain)"
        let followed = try await run(base + "/redirect2", #"{"expect_body":{"contains":"hello pinguin"}}"#)
        expect(followed, .up, nil, "200 OK")
        #expect(followed.details["redirects"] == .int(2))
        let kept = try await run(base + "/redirect2", #"{"follow_redirects":false}"#)
        expect(kept, .up, nil, "301 Moved Permanently")
        expect(try await run(base + "/redirect2", #"{"follow_redirects":false,"accepted_status":["200-299"]}"#), .down, "status_mismatch", "status 301 Moved Permanently, expected 200-299")
        expect(try await run(base + "/redirect2", #"{"max_redirects":1}"#), .down, "too_many_redirects", "more than 1 redirects")
        expect(try await run(base + "/loop"), .down, "too_many_redirects", "more than 10 redirects")
        expect(try await run(base + "/to-file"), .down, "redirect_refused", "redirect to file:///etc/passwd refused: only http and https are followed")
        expect(try await run(base + "/to-gopher"), .down, "redirect_refused", "refused: only http and https")
        guard case .error(let error) = try await HTTPPlugin.check("file:///etc/passwd") else { throw Failure(description: "file:// must be refused") }
        #expect(error.code == -32602 && error.message.contains("http:// or https://"), "\(error)")
    }

    @Test("TLS: verified against ca_file; untrusted, self-signed, expired and wrong host names told apart")
    func tlsVerification() async throws {
        let f = try await fixture()
        let ca = #"{"ca_file":"\#(f.caFile)"}"#
        let good = try await run("https://localhost:\(f.valid)/", ca)
        expect(good, .up, nil, "200 in")
        let certificate = good.details["certificate"]?.objectValue
        #expect(certificate?["issuer"]?.stringValue?.contains("Pinguin Test CA") == true, "\(good.details)")
        #expect(certificate?["earliest_expiry"]?.objectValue?["issuer"]?.stringValue?.contains("Pinguin Test CA") == true, "\(good.details)")
        #expect((certificate?["days_left"]?.doubleValue ?? 0) > 360, "\(good.details)")
        #expect(good.phases["tls"] != nil)
        expect(try await run("https://localhost:\(f.valid)/"), .down, "tls_untrusted", "the server's certificate is not trusted")
        expect(try await run("https://localhost:\(f.selfSigned)/", ca), .down, "tls_untrusted", "self-signed")
        expect(try await run("https://localhost:\(f.expired)/", ca), .down, "tls_expired", "the server's certificate has expired")
        expect(try await run("https://localhost:\(f.wrongHost)/", ca), .down, "tls_hostname", "does not match the host name")
        expect(try await run("https://localhost:\(f.selfSigned)/", #"{"tls_verify":false}"#), .up, nil, "200")
    }

    @Test("certificate expiry threshold: degraded or down, with the earliest expiry and its issuer")
    func certificateExpiry() async throws {
        let f = try await fixture()
        let expiring = try await run("https://localhost:\(f.expiring)/", #"{"ca_file":"\#(f.caFile)"}"#)
        expect(expiring, .degraded, "tls_expiring", "the server's certificate expires in 4.9")
        #expect(expiring.message.contains("issuer CN = Pinguin Test CA") || expiring.message.contains("Pinguin Test CA"), "\(expiring.message)")
        expect(try await run("https://localhost:\(f.expiring)/", #"{"ca_file":"\#(f.caFile)","cert_expiry_status":"down"}"#), .down, "tls_expiring", "less than 14")
        expect(try await run("https://localhost:\(f.expiring)/", #"{"ca_file":"\#(f.caFile)","cert_expiry_days":3}"#), .up, nil, "200")
        expect(try await run("https://localhost:\(f.expiring)/", #"{"ca_file":"\#(f.caFile)","cert_expiry_days":0}"#), .up, nil, "200")
        let expired = try await run("https://localhost:\(f.expired)/", #"{"tls_verify":false,"cert_expiry_status":"down"}"#)
        expect(expired, .down, "tls_expiring", "(2021-01-01T00:00:00Z, issuer")
    }

    @Test("server_name, resolve and connect_to: the right name on another address")
    func namesAndAddresses() async throws {
        let f = try await fixture()
        let ca = #""ca_file":"\#(f.caFile)""#
        expect(try await run("https://127.0.0.1:\(f.wrongHost)/", #"{\#(ca),"server_name":"wrong.example"}"#), .up, nil, "200")
        expect(try await run("https://127.0.0.1:\(f.valid)/", #"{\#(ca),"server_name":"other.example"}"#), .down, "tls_hostname", "does not match the host name")
        let pinned = try await run("https://pinguin.test:\(f.valid)/", #"{\#(ca),"resolve":["pinguin.test:\#(f.valid):127.0.0.1"]}"#)
        expect(pinned, .up, nil, "200")
        #expect(pinned.details["resolved_ip"] == .string("127.0.0.1"))
        expect(try await run("https://pinguin.test/", #"{\#(ca),"connect_to":["pinguin.test:443:127.0.0.1:\#(f.valid)"]}"#), .up, nil, "200")
        let six = try await run("http://dual.test:\(f.plain)/", #"{"resolve":["dual.test:\#(f.plain):127.0.0.1,[::1]"],"ip_version":"6"}"#)
        expect(six, .up, nil, "200")
        #expect(six.details["resolved_ip"] == .string("::1"))
        let four = try await run("http://dual.test:\(f.plain)/", #"{"resolve":["dual.test:\#(f.plain):[::1],127.0.0.1"],"ip_version":"4"}"#)
        #expect(four.details["resolved_ip"] == .string("127.0.0.1"), "\(four)")
        expect(try await run("http://[::1]:\(f.plain)/"), .up, nil, "200")
    }

    @Test("dns_servers: refused clearly without c-ares; with c-ares, host.test resolved by a local dnsmasq")
    func dnsServers() async throws {
        let f = try await fixture()
        // The test links the same libcurl.so.4 as the plugin, so it knows which branch must happen.
        guard HTTPCurlFeatures.hasCAres else {
            guard case .error(let error) = try await HTTPPlugin.check("http://127.0.0.1:\(f.plain)/", #"{"dns_servers":["127.0.0.1"]}"#) else {
                throw Failure(description: "libcurl \(HTTPCurlFeatures.version) has no c-ares, so dns_servers must be refused")
            }
            #expect(error.code == -32602 && error.message.contains("needs a libcurl built with c-ares"), "\(error)")
            #expect(error.data?.objectValue?["kind"] == .string("unsupported"), "\(error)")
            return
        }
        let dnsmasq = try await HTTPDNSMasq.start(answering: "host.test", with: "127.0.0.1")
        defer { dnsmasq.stop() }
        let url = "http://host.test:\(f.plain)/"
        let resolved = try await run(url, #"{"dns_servers":["127.0.0.1:\#(dnsmasq.port)"],"expect_body":{"contains":"hello pinguin"}}"#)
        expect(resolved, .up, nil, "200 OK")
        #expect(resolved.details["resolved_ip"] == .string("127.0.0.1"), "\(resolved.details)")
        // Without the option the system resolver is asked, which knows no host.test.
        expect(try await run(url), .down, "dns_nxdomain", "could not resolve host")
    }

    @Test("TLS versions, HTTP versions and client certificates")
    func tlsOptions() async throws {
        let f = try await fixture()
        let ca = #""ca_file":"\#(f.caFile)""#
        expect(try await run("https://localhost:\(f.tls12)/", #"{\#(ca),"tls_min_version":"1.3"}"#), .down, "tls_handshake", "TLS handshake failed")
        expect(try await run("https://localhost:\(f.tls12)/", #"{\#(ca),"tls_min_version":"1.2"}"#), .up, nil, "200")
        expect(try await run("https://localhost:\(f.valid)/", #"{\#(ca),"tls_max_version":"1.2"}"#), .up, nil, "200")
        // A TLS 1.3-only server: up by default and with 1.3 allowed, a failed handshake when 1.2 is the most offered.
        expect(try await run("https://localhost:\(f.tls13)/", #"{\#(ca)}"#), .up, nil, "200")
        expect(try await run("https://localhost:\(f.tls13)/", #"{\#(ca),"tls_max_version":"1.3"}"#), .up, nil, "200")
        expect(try await run("https://localhost:\(f.tls13)/", #"{\#(ca),"tls_max_version":"1.2"}"#), .down, "tls_handshake", "TLS handshake failed")
        expect(try await run("https://localhost:\(f.tls13)/", #"{\#(ca),"tls_min_version":"1.0","tls_max_version":"1.2"}"#), .down, "tls_handshake", "protocol version")
        let two = try await run("https://localhost:\(f.valid)/", #"{\#(ca),"http_version":"2"}"#)
        expect(two, .up, nil, "200")
        #expect(two.details["http_version"] == .string("2"))
        let one = try await run("https://localhost:\(f.valid)/", #"{\#(ca),"http_version":"1.1"}"#)
        #expect(one.details["http_version"] == .string("1.1"), "\(one)")
        expect(try await run("https://localhost:\(f.tls12)/", #"{\#(ca),"http_version":"2"}"#), .down, "http_version_mismatch", "the server answered over HTTP/1.1, HTTP/2 was required")
        // auto (the default) takes HTTP/2 when ALPN offers it, HTTP/1.1 when it does not.
        for config in [#"{\#(ca)}"#, #"{\#(ca),"http_version":"auto"}"#] {
            let auto = try await run("https://localhost:\(f.valid)/", config)
            expect(auto, .up, nil, "200")
            #expect(auto.details["http_version"] == .string("2"), "\(config): \(auto.details)")
            let fallback = try await run("https://localhost:\(f.tls12)/", config)
            expect(fallback, .up, nil, "200 OK")
            #expect(fallback.details["http_version"] == .string("1.1"), "\(config): \(fallback.details)")
        }
        expect(try await run("https://localhost:\(f.mutual)/", #"{\#(ca)}"#), .down, "status_mismatch", "status 400")
        expect(try await run("https://localhost:\(f.mutual)/", #"{\#(ca),"client_cert":"\#(f.clientCertificate)","client_key":"\#(f.clientKey)"}"#), .up, nil, "200")
    }

    @Test("http_version in clear text: 2 is HTTP/2 with prior knowledge (h2c), auto and 1.1 are HTTP/1.1")
    func clearTextHTTP2() async throws {
        let f = try await fixture()
        let h2c = "http://127.0.0.1:\(f.h2c)/"
        let two = try await run(h2c, #"{"http_version":"2","expect_body":{"contains":"h2c hello"}}"#)
        expect(two, .up, nil, "200")
        #expect(two.details["http_version"] == .string("2"), "\(two.details)")
        // Without prior knowledge the HTTP/1.1 request gets HTTP/2 frames back, which are not an HTTP/1 answer.
        for config in ["{}", #"{"http_version":"auto"}"#, #"{"http_version":"1.1"}"#] {
            expect(try await run(h2c, config), .down, "bad_response", "the answer is not HTTP")
        }
        // An HTTP/1.1-only server closes on the HTTP/2 connection preface.
        expect(try await run("http://127.0.0.1:\(f.plain)/", #"{"http_version":"2"}"#), .down, "empty_reply", "closed the connection without answering")
    }

    @Test("basic and bearer auth, never echoed")
    func authentication() async throws {
        let f = try await fixture()
        let base = "http://127.0.0.1:\(f.plain)"
        expect(try await run(base + "/basic"), .down, "status_mismatch", "status 401 Unauthorized")
        expect(try await run(base + "/basic", #"{"basic_auth":{"username":"pinguin","password":"s3cret"}}"#), .up, nil, "200 OK")
        let wrong = try await run(base + "/basic", #"{"basic_auth":{"username":"pinguin","password":"wr0ng-secret"}}"#)
        expect(wrong, .down, "status_mismatch", "401")
        expect(try await run(base + "/bearer", #"{"bearer_token":"t0ken"}"#), .up, nil, "200 OK")
        let bad = try await run(base + "/bearer", #"{"bearer_token":"other-t0ken"}"#)
        expect(bad, .down, "status_mismatch", "401")
        for result in [wrong, bad] {
            let text = result.message + String(decoding: JSONWriter.bytes(.object(result.details)), as: UTF8.self)
            #expect(!text.contains("wr0ng-secret") && !text.contains("other-t0ken"), "\(text)")
        }
        let inURL = try await run("http://pinguin:s3cret@127.0.0.1:\(f.plain)/basic")
        expect(inURL, .up, nil, "200")
        let shownURL = inURL.details["url"]?.stringValue ?? ""
        #expect(!shownURL.contains("s3cret"), "\(inURL.details)")
    }

    @Test("proxy: the request goes through it")
    func proxy() async throws {
        let f = try await fixture()
        expect(try await run("http://pinguin.test/anything", #"{"proxy":"http://127.0.0.1:\#(f.proxy)","expect_body":{"contains":"via proxy"}}"#), .up, nil, "200 OK")
        expect(try await run("http://pinguin.test/anything", #"{"proxy":"http://127.0.0.1:1"}"#), .down, "refused", "connection refused")
    }

    @Test("timeouts and response-time thresholds")
    func timing() async throws {
        let f = try await fixture()
        expect(try await run("http://127.0.0.1:\(f.hanging)/", #"{"timeout_ms":300}"#), .down, "timeout", "no answer within 300 ms (timeout_ms)")
        let started = ContinuousClock.now
        // Ended by curl a margin (a tenth of the time, at most 250 ms) before the deadline: a
        // result, not a missed deadline, even when the suite loads both cores.
        expect(try await run("http://127.0.0.1:\(f.hanging)/", timeout: 3000), .down, "timeout", "(the check's deadline)")
        #expect(ContinuousClock.now - started < .milliseconds(3000))
        expect(try await run("http://127.0.0.1:\(f.plain)/slow", #"{"degraded_ms":200}"#), .degraded, "slow", "slower than degraded_ms 200")
        expect(try await run("http://127.0.0.1:\(f.plain)/slow", #"{"degraded_ms":5000}"#), .up, nil, "200 OK")
        expect(try await run("http://127.0.0.1:\(f.plain)/slow", #"{"timeout_ms":300}"#), .down, "timeout", "within 300 ms (timeout_ms)")
    }

    @Test("the body cap: Content-Length and chunked bodies over it fail")
    func bodyCap() async throws {
        let f = try await fixture()
        expect(try await run("http://127.0.0.1:\(f.plain)/big"), .down, "body_too_large", "larger than max_body_bytes (1048576 bytes)")
        expect(try await run("http://127.0.0.1:\(f.plain)/big-chunked"), .down, "body_too_large", "larger than max_body_bytes (1048576 bytes)")
        let raised = try await run("http://127.0.0.1:\(f.plain)/big", #"{"max_body_bytes":3000000}"#)
        expect(raised, .up, nil, "200 OK")
        #expect(raised.details["body_bytes"] == .int(2 << 20))
    }

    @Test("a fresh connection per check by default; fresh_connection false reuses one")
    func freshConnection() async throws {
        let f = try await fixture()
        let url = "http://127.0.0.1:\(f.plain)/"
        for _ in 0..<2 { #expect(try await run(url).details["new_connections"] == .int(1)) }
        // Other tests of the suite run at once through the same plugin process, and libcurl's
        // connection cache may drop an idle connection under that load (seen once in a full run):
        // of four checks in a row, all but the first may reuse, and at least one must.
        var counts: [JSONValue?] = []
        for _ in 0..<4 { counts.append(try await run(url, #"{"fresh_connection":false}"#).details["new_connections"]) }
        #expect(counts.dropFirst().contains(.int(0)), "\(counts)")
    }

    @Test("many checks at once on one plugin process")
    func concurrency() async throws {
        let f = try await fixture()
        try await withThrowingTaskGroup(of: PluginCheckResult.self) { group in
            for index in 0..<100 {
                group.addTask { try await run(index % 2 == 0 ? "http://127.0.0.1:\(f.plain)/slow" : "https://localhost:\(f.valid)/", #"{"ca_file":"\#(f.caFile)"}"#) }
            }
            for try await result in group { #expect(result.status == .up, "\(result)") }
        }
    }
}
