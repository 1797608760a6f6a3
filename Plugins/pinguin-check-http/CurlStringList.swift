import CCurl

/// Owns one `curl_slist` (headers, `--resolve` and `--connect-to` entries); freed in `deinit`.
/// Kept alive by the ``CurlEasy`` that points libcurl at it, for as long as that handle lives.
final class CurlStringList {
    private(set) var pointer: UnsafeMutablePointer<curl_slist>?

    init(_ entries: [String]) {
        for entry in entries {
            // curl_slist_append copies the string; on allocation failure it returns NULL and leaves the list as it was.
            if let grown = curl_slist_append(pointer, entry) { pointer = grown }
        }
    }

    deinit {
        curl_slist_free_all(pointer)
    }
}
