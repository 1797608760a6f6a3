import CCurl
import CPinguinShims
import Glibc
import PinguinCheckerKit

/// One `CURL *` easy handle: one HTTP check, its option lists, and the response it collects.
///
/// `@unchecked Sendable`: the handle is configured by one check's task, then touched only by the
/// ``CurlLoop`` thread while it is in the multi handle, then read again by the task after the
/// loop has handed it back through a continuation. Those hand-overs order every access.
final class CurlEasy: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer
    private var lists: [CurlStringList] = []
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)

    /// The response body, up to `maximumBodyBytes`.
    private(set) var body: [UInt8] = []
    var maximumBodyBytes = 1 << 20
    /// Set when the body grew past the cap and the write callback stopped the transfer.
    private(set) var bodyTooLarge = false
    /// Header lines of each response, in order (a redirect chain gives one entry per hop).
    private(set) var responses: [[String]] = []

    init() throws(CheckError) {
        guard let handle = curl_easy_init() else { throw CheckError("curl_easy_init failed (out of memory?)") }
        self.handle = handle
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let context = Unmanaged.passUnretained(self).toOpaque()
        // These cannot fail on a new handle with valid arguments; a failure shows up in the transfer.
        _ = pinguin_curl_easy_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
        _ = pinguin_curl_easy_setopt_write_callback(handle, { data, size, count, context in
            Unmanaged<CurlEasy>.fromOpaque(context!).takeUnretainedValue().received(data, size * count)
        })
        _ = pinguin_curl_easy_setopt_pointer(handle, CURLOPT_WRITEDATA, context)
        _ = pinguin_curl_easy_setopt_header_callback(handle, { data, size, count, context in
            Unmanaged<CurlEasy>.fromOpaque(context!).takeUnretainedValue().header(data, size * count)
        })
        _ = pinguin_curl_easy_setopt_pointer(handle, CURLOPT_HEADERDATA, context)
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    private func received(_ data: UnsafeMutablePointer<CChar>?, _ count: Int) -> Int {
        guard let data else { return count }
        if body.count + count > maximumBodyBytes {
            bodyTooLarge = true
            return 0   // anything short of `count` makes libcurl stop with CURLE_WRITE_ERROR
        }
        data.withMemoryRebound(to: UInt8.self, capacity: count) { body.append(contentsOf: UnsafeBufferPointer(start: $0, count: count)) }
        return count
    }

    private func header(_ data: UnsafeMutablePointer<CChar>?, _ count: Int) -> Int {
        guard let data else { return count }
        let line = data.withMemoryRebound(to: UInt8.self, capacity: count) {
            String(decoding: UnsafeBufferPointer(start: $0, count: count), as: UTF8.self)
        }
        var trimmed = Substring(line)
        while let last = trimmed.last, last.isNewline || last == " " { trimmed.removeLast() }   // "\r\n" is one Character
        if trimmed.hasPrefix("HTTP/") {
            responses.append([String(trimmed)])
        } else if !trimmed.isEmpty, !responses.isEmpty {
            responses[responses.count - 1].append(String(trimmed))
        }
        return count
    }

    /// libcurl's own words for the last failure ("" if it gave none).
    var errorText: String { String(cString: errorBuffer) }

    // MARK: Options (typed: curl_easy_setopt is variadic)

    func set(_ option: CURLoption, _ value: Int) throws(CheckError) {
        try check(pinguin_curl_easy_setopt_long(handle, option, value), option)
    }

    func set(_ option: CURLoption, offset value: Int) throws(CheckError) {
        try check(pinguin_curl_easy_setopt_off_t(handle, option, curl_off_t(value)), option)
    }

    func set(_ option: CURLoption, _ value: Bool) throws(CheckError) {
        try set(option, value ? 1 : 0)
    }

    /// libcurl copies string options, so the Swift string need not outlive the call. nil resets.
    func set(_ option: CURLoption, _ value: String?) throws(CheckError) {
        let code = if let value { pinguin_curl_easy_setopt_string(handle, option, value) }
                   else { pinguin_curl_easy_setopt_string(handle, option, nil) }
        try check(code, option)
    }

    func set(_ option: CURLoption, list entries: [String]) throws(CheckError) {
        let list = CurlStringList(entries)
        lists.append(list)
        try check(pinguin_curl_easy_setopt_slist(handle, option, list.pointer), option)
    }

    func setBody(_ body: [UInt8]) throws(CheckError) {
        try check(pinguin_curl_easy_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)), CURLOPT_POSTFIELDSIZE_LARGE)
        let code = body.withUnsafeBufferPointer { buffer in
            pinguin_curl_easy_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: buffer.baseAddress ?? UnsafePointer(bitPattern: 1)!))
        }
        try check(code, CURLOPT_COPYPOSTFIELDS)
    }

    private func check(_ code: CURLcode, _ option: CURLoption) throws(CheckError) {
        guard code == CURLE_OK else {
            throw CheckError("libcurl refused option \(option.rawValue): \(String(cString: curl_easy_strerror(code)))", kind: "curl_option")
        }
    }

    // MARK: Information after the transfer

    func long(_ info: CURLINFO) -> Int {
        var value = 0
        return pinguin_curl_easy_getinfo_long(handle, info, &value) == CURLE_OK ? value : 0
    }

    /// A `*_TIME_T` value in microseconds, as milliseconds.
    func milliseconds(_ info: CURLINFO) -> Double {
        var value: curl_off_t = 0
        return pinguin_curl_easy_getinfo_off_t(handle, info, &value) == CURLE_OK ? Double(value) / 1000 : 0
    }

    func offset(_ info: CURLINFO) -> Int64 {
        var value: curl_off_t = 0
        return pinguin_curl_easy_getinfo_off_t(handle, info, &value) == CURLE_OK ? Int64(value) : 0
    }

    func string(_ info: CURLINFO) -> String? {
        var value: UnsafePointer<CChar>?
        guard pinguin_curl_easy_getinfo_string(handle, info, &value) == CURLE_OK, let value else { return nil }
        return String(cString: value)
    }

    /// The certificate chain as libcurl describes it (CURLOPT_CERTINFO): one list of
    /// `Name:value` lines per certificate, the server's first.
    func certificates() -> [[String: String]] {
        var info: UnsafeMutablePointer<curl_certinfo>?
        guard pinguin_curl_easy_getinfo_certinfo(handle, &info) == CURLE_OK, let info, let chain = info.pointee.certinfo else { return [] }
        var certificates: [[String: String]] = []
        for index in 0..<Int(info.pointee.num_of_certs) {
            var fields: [String: String] = [:]
            var node = chain[index]
            while let current = node {
                if let data = current.pointee.data {
                    let line = String(cString: data)
                    if let colon = line.firstIndex(of: ":") {
                        fields[String(line[..<colon])] = String(line[line.index(after: colon)...])
                    }
                }
                node = current.pointee.next
            }
            certificates.append(fields)
        }
        return certificates
    }
}
