import CCurl

/// What the system's libcurl can do, asked in the test process: it loads the same libcurl.so.4
/// as pinguin-check-http, so a test knows which behaviour the plugin must show.
enum HTTPCurlFeatures {
    /// libcurl resolves with c-ares (then CURLOPT_DNS_SERVERS works; Debian's uses getaddrinfo).
    static let hasCAres: Bool = {
        guard let info = curl_version_info(CURLVERSION_ELEVENTH) else { return false }
        return info.pointee.ares != nil
    }()

    static let version: String = {
        guard let info = curl_version_info(CURLVERSION_ELEVENTH), let version = info.pointee.version else { return "?" }
        return String(cString: version)
    }()
}
