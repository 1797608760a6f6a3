import CCurl
import PinguinCheckerKit
import PinguinWire

extension HTTPCheck {
    /// The config's regular expressions and JSON paths, compiled before the request goes out, so a
    /// bad one is a config error and never a down target.
    struct Matchers {
        var body: Regex<AnyRegexOutput>?
        var paths: [JSONPath] = []
        var jsonRegexes: [Int: Regex<AnyRegexOutput>] = [:]
        var headerRegexes: [Int: Regex<AnyRegexOutput>] = [:]

        init(_ config: HTTPConfig) throws(CheckError) {
            if let pattern = config.expectBody?.regex { body = try Self.compile(pattern, "config.expect_body.regex") }
            for (index, assertion) in config.expectJSON.enumerated() {
                do { paths.append(try JSONPath(assertion.path)) } catch { throw .invalidConfig("config.expect_json[\(index)].path: \(error)") }
                if assertion.operation == .matches {
                    guard let pattern = assertion.value?.stringValue else { throw .invalidConfig("config.expect_json[\(index)].value must be a string (a regex) for op matches") }
                    jsonRegexes[index] = try Self.compile(pattern, "config.expect_json[\(index)].value")
                }
                if [.lt, .le, .gt, .ge].contains(assertion.operation), assertion.value?.doubleValue == nil {
                    throw .invalidConfig("config.expect_json[\(index)].value must be a number for op \(assertion.operation.rawValue)")
                }
            }
            for (index, assertion) in config.expectHeaders.enumerated() {
                if let pattern = assertion.regex { headerRegexes[index] = try Self.compile(pattern, "config.expect_headers[\(index)].regex") }
            }
        }

        static func compile(_ pattern: String, _ field: String) throws(CheckError) -> Regex<AnyRegexOutput> {
            do { return try Regex(pattern) } catch { throw .invalidConfig("\(field) is not a valid regular expression: \(error)") }
        }
    }

    static func judge(easy: CurlEasy, code: CURLcode, config: HTTPConfig, matchers: Matchers, target: String, host: String,
                      timeout: Int, timeoutSource: String) -> CheckOutcome {
        let total = easy.milliseconds(CURLINFO_TOTAL_TIME_T)
        let dns = easy.milliseconds(CURLINFO_NAMELOOKUP_TIME_T)
        let connect = easy.milliseconds(CURLINFO_CONNECT_TIME_T)
        let tls = easy.milliseconds(CURLINFO_APPCONNECT_TIME_T)
        let pretransfer = easy.milliseconds(CURLINFO_PRETRANSFER_TIME_T)
        let firstByte = easy.milliseconds(CURLINFO_STARTTRANSFER_TIME_T)
        var phases: [(name: String, milliseconds: Double)] = [("dns", dns)]
        if connect > 0 { phases.append(("connect", max(connect - dns, 0))) }
        if tls > 0 { phases.append(("tls", max(tls - connect, 0))) }
        if firstByte > 0 { phases.append(("first_byte", max(firstByte - max(pretransfer, tls, connect), 0))) }
        if firstByte > 0 { phases.append(("transfer", max(total - firstByte, 0))) }

        var details = JSONObject()
        let status = easy.long(CURLINFO_RESPONSE_CODE)
        if let url = easy.string(CURLINFO_EFFECTIVE_URL) { details.append("url", .string(CurlURL.redacted(url))) }
        if let ip = easy.string(CURLINFO_PRIMARY_IP), !ip.isEmpty { details.append("resolved_ip", .string(ip)) }
        let version = Self.versionName(easy.long(CURLINFO_HTTP_VERSION))
        if let version { details.append("http_version", .string(version)) }
        if status > 0 { details.append("status_code", .int(status)) }
        let redirects = easy.long(CURLINFO_REDIRECT_COUNT)
        details.append("redirects", .int(redirects))
        if redirects > 0 { details.append("redirect_ms", .double(easy.milliseconds(CURLINFO_REDIRECT_TIME_T))) }
        details.append("body_bytes", .int(easy.body.count))
        details.append("new_connections", .int(easy.long(CURLINFO_NUM_CONNECTS)))
        let certificate = CertificateFacts(easy.certificates())
        if !certificate.chain.isEmpty { details.append("certificate", .object(certificate.details)) }

        func outcome(_ status: CheckStatus, _ message: String, _ kind: String?) -> CheckOutcome {
            CheckOutcome(status: status, message: message, latencyMilliseconds: total, phases: phases, details: details, errorKind: kind)
        }

        guard code == CURLE_OK else {
            var failure = CurlFailure(code: code, easy: easy, host: host, timeoutMilliseconds: timeout, timeoutSource: timeoutSource)
            if code == CURLE_UNSUPPORTED_PROTOCOL, let location = Self.header("location", in: easy.responses.last ?? []) {
                failure.message = "redirect to \(CurlURL.redacted(location)) refused: only http and https are followed"
                failure.kind = "redirect_refused"
            }
            return outcome(.down, failure.message, failure.kind)
        }

        let statusLine = easy.responses.last?.first ?? ""
        let reason = statusLine.split(separator: " ", maxSplits: 2).dropFirst(2).first.map { " " + String($0).trimmingCharacters(in: " \t") } ?? ""
        let said = "\(status)\(reason)"
        guard config.acceptedStatus.contains(where: { $0.contains(status) }) else {
            return outcome(.down, "status \(said), expected \(config.acceptedStatusText)", "status_mismatch")
        }
        if config.httpVersion == .http2 && version != "2" {
            return outcome(.down, "the server answered over HTTP/\(version ?? "?"), HTTP/2 was required", "http_version_mismatch")
        }
        let headers = easy.responses.last ?? []
        for (index, assertion) in config.expectHeaders.enumerated() {
            if let failure = Self.check(assertion, regex: matchers.headerRegexes[index], headers: headers) {
                return outcome(.down, failure.message, failure.kind)
            }
        }
        if let expectation = config.expectBody {
            let text = String(decoding: easy.body, as: UTF8.self)
            if let keyword = expectation.contains {
                let found = text.contains(keyword)
                if found == expectation.invert {
                    return outcome(.down, found ? "the body contains \"\(keyword)\", which it must not" : "the body does not contain \"\(keyword)\"", "body_mismatch")
                }
            }
            if let regex = matchers.body, let pattern = expectation.regex {
                let found = (try? regex.firstMatch(in: text)) != nil
                if found == expectation.invert {
                    return outcome(.down, found ? "the body matches /\(pattern)/, which it must not" : "the body does not match /\(pattern)/", "body_mismatch")
                }
            }
        }
        if !config.expectJSON.isEmpty {
            let document: JSONValue
            do { document = try JSONParser.parse(easy.body) } catch {
                return outcome(.down, "the body is not JSON: \(error)", "json_invalid")
            }
            for (index, assertion) in config.expectJSON.enumerated() {
                if let failure = JSONAssertionCheck.check(assertion, path: matchers.paths[index], regex: matchers.jsonRegexes[index], in: document) {
                    return outcome(.down, failure.message, failure.kind)
                }
            }
        }
        let took = "\(Self.rounded(total)) ms"
        if config.certificateExpiryDays > 0, let earliest = certificate.earliest, let notAfter = earliest.notAfter {
            let days = CertificateFacts.daysLeft(notAfter)
            if days < Double(config.certificateExpiryDays) {
                let who = earliest.subject == certificate.chain.first?.subject ? "the server's certificate" : "a certificate of the chain (\(earliest.subject))"
                return outcome(config.certificateExpiryStatus,
                               "\(who) \(days < 0 ? "expired \(-days) days ago" : "expires in \(days) days") (\(CertificateFacts.format(notAfter)), issuer \(earliest.issuer)), less than \(config.certificateExpiryDays) days left",
                               "tls_expiring")
            }
        }
        if let slow = config.degradedMilliseconds, total > Double(slow) {
            return outcome(.degraded, "\(said) in \(took), slower than degraded_ms \(slow)", "slow")
        }
        return outcome(.up, "\(said) in \(took)", nil)
    }

    static func check(_ assertion: HTTPConfig.HeaderAssertion, regex: Regex<AnyRegexOutput>?, headers: [String]) -> CurlFailure? {
        let value = header(assertion.name.lowercased(), in: headers)
        if assertion.absent {
            return value == nil ? nil : CurlFailure(kind: "header_mismatch", message: "header \(assertion.name) is present, and must not be")
        }
        guard let value else { return CurlFailure(kind: "header_missing", message: "header \(assertion.name) is missing") }
        let shown = value.count > 120 ? String(value.prefix(120)) + "…" : value
        if let equals = assertion.equals, value != equals {
            return CurlFailure(kind: "header_mismatch", message: "header \(assertion.name) is \"\(shown)\", expected \"\(equals)\"")
        }
        if let part = assertion.contains, !value.contains(part) {
            return CurlFailure(kind: "header_mismatch", message: "header \(assertion.name) is \"\(shown)\", which does not contain \"\(part)\"")
        }
        if let regex, let pattern = assertion.regex, (try? regex.firstMatch(in: value)) == nil {
            return CurlFailure(kind: "header_mismatch", message: "header \(assertion.name) is \"\(shown)\", which does not match /\(pattern)/")
        }
        return nil
    }

    /// The value of the last header named `name` (lowercase) among one response's lines.
    static func header(_ name: String, in lines: [String]) -> String? {
        var found: String?
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":"), line[..<colon].lowercased() == name else { continue }
            found = String(line[line.index(after: colon)...]).trimmingCharacters(in: " \t")
        }
        return found
    }

    static func versionName(_ version: Int) -> String? {
        switch version {
        case CURL_HTTP_VERSION_1_0: "1.0"
        case CURL_HTTP_VERSION_1_1: "1.1"
        case CURL_HTTP_VERSION_2_0: "2"
        case CURL_HTTP_VERSION_3: "3"
        default: nil
        }
    }

    static func rounded(_ milliseconds: Double) -> String {
        milliseconds < 10 ? String((milliseconds * 10).rounded() / 10) : String(Int(milliseconds.rounded()))
    }
}

extension CurlFailure {
    init(kind: String, message: String) {
        self.kind = kind
        self.message = message
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var text = Substring(self)
        while let first = text.first, set.contains(first) { text.removeFirst() }
        while let last = text.last, set.contains(last) { text.removeLast() }
        return String(text)
    }
}
