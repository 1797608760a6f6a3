import CAres
import CCurl
import CPinguinShims
import Testing

@Suite("C shims")
struct ShimTests {
    @Test("typed curl_easy_setopt and curl_easy_getinfo reach libcurl")
    func curlSetoptGetinfo() throws {
        let handle = try #require(curl_easy_init())
        defer { curl_easy_cleanup(handle) }
        #expect(pinguin_curl_easy_setopt_string(handle, CURLOPT_URL, "http://127.0.0.1:9/x") == CURLE_OK)
        #expect(pinguin_curl_easy_setopt_long(handle, CURLOPT_TIMEOUT_MS, 1500) == CURLE_OK)
        // An option that takes a long, given an invalid value, is rejected by libcurl itself.
        #expect(pinguin_curl_easy_setopt_long(handle, CURLOPT_HTTP_VERSION, 99) != CURLE_OK)
        var effective: UnsafePointer<CChar>?
        #expect(pinguin_curl_easy_getinfo_string(handle, CURLINFO_EFFECTIVE_URL, &effective) == CURLE_OK)
        #expect(effective.map { String(cString: $0) } == "http://127.0.0.1:9/x")
        var code: Int = -1
        #expect(pinguin_curl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK)
        #expect(code == 0)
    }

    @Test("c-ares initialises and reports its version")
    func aresVersion() {
        #expect(ares_library_init(ARES_LIB_INIT_ALL) == ARES_SUCCESS)
        defer { ares_library_cleanup() }
        let version = String(cString: pinguin_ares_version_string())
        #expect(version.split(separator: ".").count == 3)
    }
}
