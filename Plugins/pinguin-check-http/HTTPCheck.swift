import CCurl
import CPinguinShims
import PinguinCheckerKit
import PinguinWire

/// One `http` check: the config turned into an easy handle, run on the shared ``CurlLoop``, and
/// the response judged against the config.
enum HTTPCheck {
    static let loop = CurlLoop()

    /// Whether this libcurl resolves with c-ares (CURLOPT_DNS_SERVERS works only then).
    static let resolverIsCAres: Bool = {
        guard let info = curl_version_info(CURLVERSION_ELEVENTH) else { return false }
        return info.pointee.ares != nil
    }()

    static let libcurlVersion: String = {
        guard let info = curl_version_info(CURLVERSION_ELEVENTH), let version = info.pointee.version else { return "?" }
        return String(cString: version)
    }()

    static func run(_ request: CheckRequest) async throws -> CheckOutcome {
        let config = try HTTPConfig(request.config)
        guard let url = CurlURL(request.target), let scheme = url.scheme, scheme == "http" || scheme == "https", let host = url.host else {
            throw CheckError.invalidConfig("the target must be an http:// or https:// URL")
        }
        if !config.dnsServers.isEmpty && !resolverIsCAres {
            throw CheckError("config.dns_servers needs a libcurl built with c-ares; this libcurl \(libcurlVersion) resolves with getaddrinfo, so it cannot choose a DNS server",
                             kind: "unsupported", code: .invalidParams)
        }
        let matchers = try Matchers(config)

        // curl's own timeout ends the transfer a little before the supervisor's deadline, so a
        // slow target is a `timeout` result and never a missed deadline.
        let remaining = Int(request.remaining.components.seconds * 1000) + Int(request.remaining.components.attoseconds / 1_000_000_000_000_000)
        let margin = min(250, max(remaining / 10, 5))
        let deadlineTimeout = max(remaining - margin, 1)
        let timeout: Int
        let timeoutSource: String
        if let configured = config.timeoutMilliseconds, configured <= deadlineTimeout {
            (timeout, timeoutSource) = (configured, "timeout_ms")
        } else {
            (timeout, timeoutSource) = (deadlineTimeout, "the check's deadline")
        }

        let easy = try CurlEasy()
        try configure(easy, config: config, url: url, scheme: scheme, host: host, timeout: timeout)
        let code = await loop.run(easy)
        if code == CurlLoop.cancelledCode { throw CancellationError() }
        return judge(easy: easy, code: code, config: config, matchers: matchers, target: request.target, host: "\(host):\(url.port ?? "")",
                     timeout: timeout, timeoutSource: timeoutSource)
    }

    static func configure(_ easy: CurlEasy, config: HTTPConfig, url: CurlURL, scheme: String, host: String, timeout: Int) throws(CheckError) {
        // Only http and https reach libcurl, and redirects may not leave them (no file://, no gopher://).
        try easy.set(CURLOPT_PROTOCOLS_STR, "http,https")
        try easy.set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
        try easy.set(CURLOPT_NOSIGNAL, true)
        var connectTo = config.connectTo
        if let serverName = config.serverName {
            // The URL names the server name (so SNI, certificate check and Host use it); the
            // connection still goes to the target's host and port.
            let port = url.port ?? (scheme == "https" ? "443" : "80")
            connectTo.append("\(serverName):\(port):\(host):\(port)")
            url.set(CURLUPART_HOST, serverName)
        }
        guard let text = url.text else { throw CheckError.invalidConfig("the target is not a URL libcurl can use") }
        try easy.set(CURLOPT_URL, text)
        try easy.set(CURLOPT_FOLLOWLOCATION, config.followRedirects)
        try easy.set(CURLOPT_MAXREDIRS, config.maximumRedirects)
        try easy.set(CURLOPT_TIMEOUT_MS, timeout)
        try easy.set(CURLOPT_USERAGENT, config.userAgent)

        switch config.method {
        case "GET": break
        case "HEAD": try easy.set(CURLOPT_NOBODY, true)
        case "POST": try easy.set(CURLOPT_POST, true)
        default: try easy.set(CURLOPT_CUSTOMREQUEST, config.method)
        }
        if let body = config.body {
            try easy.setBody(Array(body.utf8))
        } else if config.method == "POST" {
            try easy.setBody([])
        }
        var headers = config.headers.map { $0.value.isEmpty ? "\($0.name);" : "\($0.name): \($0.value)" }
        if !config.headers.contains(where: { $0.name.lowercased() == "expect" }) { headers.append("Expect:") }
        try easy.set(CURLOPT_HTTPHEADER, list: headers)

        if let auth = config.basicAuth {
            try easy.set(CURLOPT_HTTPAUTH, 1)   // CURLAUTH_BASIC
            try easy.set(CURLOPT_USERNAME, auth.username)
            try easy.set(CURLOPT_PASSWORD, auth.password)
        } else if let token = config.bearerToken {
            try easy.set(CURLOPT_HTTPAUTH, 1 << 6)   // CURLAUTH_BEARER
            try easy.set(CURLOPT_XOAUTH2_BEARER, token)
        }

        if config.freshConnection {
            try easy.set(CURLOPT_FRESH_CONNECT, true)
            try easy.set(CURLOPT_FORBID_REUSE, true)
        }
        try easy.set(CURLOPT_SSL_VERIFYPEER, config.tlsVerify)
        try easy.set(CURLOPT_SSL_VERIFYHOST, config.tlsVerify ? 2 : 0)
        if let caFile = config.caFile {
            try easy.set(CURLOPT_CAINFO, caFile)
        }
        // Debian's libcurl also has a default CA path; with it set, the CA store is read again for
        // every connection instead of coming from the multi handle's cache.
        try easy.set(CURLOPT_CAPATH, nil as String?)
        try easy.set(CURLOPT_CERTINFO, true)
        if let certificate = config.clientCertificate, let key = config.clientKey {
            try easy.set(CURLOPT_SSLCERT, certificate)
            try easy.set(CURLOPT_SSLKEY, key)
        }
        if config.tlsMinimumVersion != nil || config.tlsMaximumVersion != nil {
            // CURL_SSLVERSION_TLSv1_0 is 4 … TLSv1_3 is 7; the maximum goes in the upper 16 bits.
            let minimum = config.tlsMinimumVersion.map { 4 + HTTPConfig.tlsVersions[$0]! } ?? 1
            let maximum = config.tlsMaximumVersion.map { (4 + HTTPConfig.tlsVersions[$0]!) << 16 } ?? 0
            try easy.set(CURLOPT_SSLVERSION, minimum | maximum)
        }
        switch config.httpVersion {
        case .auto: try easy.set(CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS)
        case .http1_1: try easy.set(CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1)
        case .http2: try easy.set(CURLOPT_HTTP_VERSION, scheme == "https" ? CURL_HTTP_VERSION_2_0 : CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE)
        }
        // An empty proxy turns off the environment's proxy variables too.
        try easy.set(CURLOPT_PROXY, config.proxy ?? "")
        switch config.ipVersion {
        case .any: break
        case .v4: try easy.set(CURLOPT_IPRESOLVE, Int(CURL_IPRESOLVE_V4))
        case .v6: try easy.set(CURLOPT_IPRESOLVE, Int(CURL_IPRESOLVE_V6))
        }
        if !config.dnsServers.isEmpty { try easy.set(CURLOPT_DNS_SERVERS, config.dnsServers.joined(separator: ",")) }
        if !config.resolve.isEmpty { try easy.set(CURLOPT_RESOLVE, list: config.resolve) }
        if !connectTo.isEmpty { try easy.set(CURLOPT_CONNECT_TO, list: connectTo) }
        easy.maximumBodyBytes = config.maximumBodyBytes
        if config.maximumBodyBytes > 0 {
            try easy.set(CURLOPT_MAXFILESIZE_LARGE, offset: config.maximumBodyBytes)
        }
    }
}
