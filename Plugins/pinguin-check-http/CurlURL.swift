import CCurl

/// One `CURLU *` URL handle (libcurl's own URL parser, so the plugin reads a URL exactly as
/// libcurl will); freed in `deinit`.
final class CurlURL {
    private let handle: OpaquePointer

    /// nil when libcurl cannot parse `text` as a URL.
    init?(_ text: String) {
        guard let handle = curl_url() else { return nil }
        self.handle = handle
        guard curl_url_set(handle, CURLUPART_URL, text, 0) == CURLUE_OK else { return nil }
    }

    deinit {
        curl_url_cleanup(handle)
    }

    func part(_ part: CURLUPart, defaultPort: Bool = false) -> String? {
        var value: UnsafeMutablePointer<CChar>?
        guard curl_url_get(handle, part, &value, defaultPort ? 1 : 0) == CURLUE_OK, let value else { return nil }
        defer { curl_free(value) }
        return String(cString: value)
    }

    func set(_ part: CURLUPart, _ value: String?) {
        _ = curl_url_set(handle, part, value, 0)
    }

    var scheme: String? { part(CURLUPART_SCHEME)?.lowercased() }
    var host: String? { part(CURLUPART_HOST) }
    var port: String? { part(CURLUPART_PORT, defaultPort: true) }
    var text: String? { part(CURLUPART_URL) }

    /// The URL without user name and password, for details and messages.
    static func redacted(_ text: String) -> String {
        let fallback = text.contains("@") ? "(a URL with credentials)" : text
        guard let url = CurlURL(text) else { return fallback }
        url.set(CURLUPART_USER, nil)
        url.set(CURLUPART_PASSWORD, nil)
        return url.text ?? fallback
    }
}
