import CCurl
import Glibc

/// Why a transfer failed, in words and as a stable error kind, from libcurl's result code and
/// what the handle knows (the OS error of the connect, OpenSSL's verify result, its error text).
struct CurlFailure: Sendable {
    var kind: String
    var message: String

    /// OpenSSL's X509_V_ERR_* codes that CURLINFO_SSL_VERIFYRESULT reports.
    private static let certificateExpired = 10, certificateNotYetValid = 9
    private static let untrusted: Set<Int> = [2, 18, 19, 20, 21, 24, 27, 28]
    private static let hostnameMismatch = 62

    init(code: CURLcode, easy: CurlEasy, host: String, timeoutMilliseconds: Int, timeoutSource: String) {
        let text = easy.errorText.isEmpty ? String(cString: curl_easy_strerror(code)) : easy.errorText
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST:
            (kind, message) = ("dns_nxdomain", "could not resolve host \(host): \(text)")
        case CURLE_COULDNT_RESOLVE_PROXY:
            (kind, message) = ("proxy_failed", "could not resolve the proxy: \(text)")
        case CURLE_COULDNT_CONNECT:
            let errno = easy.long(CURLINFO_OS_ERRNO)
            switch Int32(errno) {
            case ECONNREFUSED: (kind, message) = ("refused", "connection refused by \(Self.address(easy, host))")
            case ENETUNREACH, EHOSTUNREACH: (kind, message) = ("unreachable", "\(Self.address(easy, host)) is unreachable: \(String(cString: strerror(Int32(errno))))")
            default: (kind, message) = ("connect_failed", "could not connect to \(host): \(text)")
            }
        case CURLE_OPERATION_TIMEDOUT:
            let phase = easy.milliseconds(CURLINFO_CONNECT_TIME_T) == 0 ? "no connection"
                : easy.milliseconds(CURLINFO_STARTTRANSFER_TIME_T) == 0 ? "no answer" : "the answer was not complete"
            (kind, message) = ("timeout", "\(phase) within \(timeoutMilliseconds) ms (\(timeoutSource))")
        case CURLE_PEER_FAILED_VERIFICATION:
            let verify = easy.long(CURLINFO_SSL_VERIFYRESULT)
            if verify == Self.certificateExpired {
                (kind, message) = ("tls_expired", "the server's certificate has expired (\(text))")
            } else if verify == Self.certificateNotYetValid {
                (kind, message) = ("tls_not_yet_valid", "the server's certificate is not valid yet (\(text))")
            } else if Self.untrusted.contains(verify) {
                (kind, message) = ("tls_untrusted", "the server's certificate is not trusted: \(text)")
            } else if verify == Self.hostnameMismatch || text.contains("subject name") || text.contains("host name") {
                (kind, message) = ("tls_hostname", "the server's certificate does not match the host name: \(text)")
            } else {
                (kind, message) = ("tls_verify_failed", "the server's certificate failed verification: \(text)")
            }
        case CURLE_SSL_CONNECT_ERROR:
            (kind, message) = ("tls_handshake", "TLS handshake failed: \(text)")
        case CURLE_TOO_MANY_REDIRECTS:
            (kind, message) = ("too_many_redirects", "more than \(easy.long(CURLINFO_REDIRECT_COUNT)) redirects: \(text)")
        case CURLE_UNSUPPORTED_PROTOCOL where text.contains("HTTP/0.9"):
            // libcurl's code for an answer without an HTTP/1 status line (an h2c-only server asked in HTTP/1.1, say).
            (kind, message) = ("bad_response", "the answer is not HTTP/1.x: \(text)")
        case CURLE_UNSUPPORTED_PROTOCOL:
            (kind, message) = ("protocol_refused", "refused: only http and https are allowed (\(text))")
        case CURLE_FILESIZE_EXCEEDED:
            (kind, message) = ("body_too_large", "the response body is larger than max_body_bytes (\(easy.maximumBodyBytes) bytes), by its Content-Length")
        case CURLE_WRITE_ERROR where easy.bodyTooLarge:
            (kind, message) = ("body_too_large", "the response body is larger than max_body_bytes (\(easy.maximumBodyBytes) bytes)")
        case CURLE_GOT_NOTHING:
            (kind, message) = ("empty_reply", "the server closed the connection without answering")
        case CURLE_RECV_ERROR:
            (kind, message) = ("receive_failed", "receiving failed: \(text)")
        case CURLE_SEND_ERROR:
            (kind, message) = ("send_failed", "sending failed: \(text)")
        case CURLE_WEIRD_SERVER_REPLY:
            (kind, message) = ("bad_response", "the answer is not HTTP: \(text)")
        case CURLE_HTTP2, CURLE_HTTP2_STREAM:
            (kind, message) = ("http2_error", "HTTP/2 failed: \(text)")
        case CURLE_PROXY:
            (kind, message) = ("proxy_failed", "the proxy failed: \(text)")
        case CURLE_PARTIAL_FILE:
            (kind, message) = ("partial_body", "the body ended before its announced length: \(text)")
        default:
            (kind, message) = ("transfer_failed", "transfer failed (curl error \(code.rawValue)): \(text)")
        }
    }

    private static func address(_ easy: CurlEasy, _ host: String) -> String {
        guard let ip = easy.string(CURLINFO_PRIMARY_IP), !ip.isEmpty else { return host }
        let port = easy.long(CURLINFO_PRIMARY_PORT)
        let shown = ip.contains(":") ? "[\(ip)]" : ip
        return port > 0 ? "\(shown):\(port)" : "\(shown) (\(host))"
    }
}
