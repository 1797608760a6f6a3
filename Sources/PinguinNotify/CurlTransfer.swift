import CCurl
import CPinguinShims
import Foundation

/// What a receiver answered.
public struct DeliveryReceipt: Sendable, Hashable {
    /// The HTTP status, or the SMTP server's last reply code; nil for `exec` and `nothing`.
    public var code: Int?
    /// The first bytes of the answer (HTTP body, or what the program wrote), as text.
    public var answer: String
    public var milliseconds: Double
}

/// One blocking libcurl transfer (HTTP or SMTP) on a thread of its own: notifications are few,
/// and a slow receiver must never hold a thread of Swift's two-thread cooperative pool.
final class CurlTransfer: @unchecked Sendable {
    // @unchecked: the handle and buffers are touched by one thread at a time (created by the
    // caller, used by the transfer thread, read after the continuation resumes).
    private let handle: UnsafeMutableRawPointer
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    private var lists: [UnsafeMutablePointer<curl_slist>] = []
    private var received: [UInt8] = []
    private var upload: [UInt8] = []
    private var uploaded = 0
    /// The most of an answer kept (the rest is read and dropped).
    static let answerCap = 64 * 1024

    private static let initialized: Bool = curl_global_init(3) == CURLE_OK   // CURL_GLOBAL_SSL | CURL_GLOBAL_WIN32

    private init() throws(DeliveryError) {
        guard Self.initialized, let handle = curl_easy_init() else { throw DeliveryError("libcurl could not start a transfer", retryable: true) }
        self.handle = handle
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let context = Unmanaged.passUnretained(self).toOpaque()
        _ = pinguin_curl_easy_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
        _ = pinguin_curl_easy_setopt_write_callback(handle, { data, size, count, context in
            Unmanaged<CurlTransfer>.fromOpaque(context!).takeUnretainedValue().receive(data, size * count)
        })
        _ = pinguin_curl_easy_setopt_pointer(handle, CURLOPT_WRITEDATA, context)
        _ = pinguin_curl_easy_setopt_read_callback(handle, { buffer, size, count, context in
            Unmanaged<CurlTransfer>.fromOpaque(context!).takeUnretainedValue().send(buffer, size * count)
        })
        _ = pinguin_curl_easy_setopt_pointer(handle, CURLOPT_READDATA, context)
        _ = pinguin_curl_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        _ = pinguin_curl_easy_setopt_string(handle, CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
        _ = pinguin_curl_easy_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0)
    }

    deinit {
        curl_easy_cleanup(handle)
        for list in lists { curl_slist_free_all(list) }
        errorBuffer.deallocate()
    }

    private func receive(_ data: UnsafeMutablePointer<CChar>?, _ count: Int) -> Int {
        guard let data, received.count < Self.answerCap else { return count }
        let kept = min(count, Self.answerCap - received.count)
        data.withMemoryRebound(to: UInt8.self, capacity: kept) { received.append(contentsOf: UnsafeBufferPointer(start: $0, count: kept)) }
        return count
    }

    private func send(_ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int) -> Int {
        guard let buffer else { return 0 }
        let count = min(capacity, upload.count - uploaded)
        guard count > 0 else { return 0 }
        upload.withUnsafeBufferPointer { source in
            UnsafeMutableRawPointer(buffer).copyMemory(from: source.baseAddress! + uploaded, byteCount: count)
        }
        uploaded += count
        return count
    }

    private func set(_ option: CURLoption, _ value: Int) throws(DeliveryError) {
        try check(pinguin_curl_easy_setopt_long(handle, option, value), option)
    }

    private func set(_ option: CURLoption, _ value: String) throws(DeliveryError) {
        try check(pinguin_curl_easy_setopt_string(handle, option, value), option)
    }

    private func set(_ option: CURLoption, list: [String]) throws(DeliveryError) {
        var head: UnsafeMutablePointer<curl_slist>?
        for entry in list { head = curl_slist_append(head, entry) }
        guard let head else { return }
        lists.append(head)
        try check(pinguin_curl_easy_setopt_slist(handle, option, head), option)
    }

    private func check(_ code: CURLcode, _ option: CURLoption) throws(DeliveryError) {
        guard code == CURLE_OK else {
            throw DeliveryError("libcurl refused option \(option.rawValue): \(String(cString: curl_easy_strerror(code)))", retryable: false)
        }
    }

    private var answerText: String {
        String(decoding: received.prefix(300), as: UTF8.self)
            .split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    /// Runs the configured transfer on a thread of its own.
    private func run(what: String) async throws(DeliveryError) -> (code: Int, milliseconds: Double) {
        let outcome = await onThread { () -> Result<(code: Int, milliseconds: Double), DeliveryError> in
            do throws(DeliveryError) { return .success(try self.perform(what: what)) } catch { return .failure(error) }
        }
        return try outcome.get()
    }

    /// Runs the configured transfer on the calling thread.
    private func perform(what: String) throws(DeliveryError) -> (code: Int, milliseconds: Double) {
        let code = curl_easy_perform(handle)
        var status = 0
        _ = pinguin_curl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        var total: curl_off_t = 0
        _ = pinguin_curl_easy_getinfo_off_t(handle, CURLINFO_TOTAL_TIME_T, &total)
        guard code == CURLE_OK else {
            let detail = String(cString: errorBuffer)
            let words = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            // Login refused, or a server that does not speak the protocol: trying again will not help.
            let permanent = [CURLE_LOGIN_DENIED, CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT, CURLE_USE_SSL_FAILED].contains(code)
            throw DeliveryError("\(what) failed: \(words)\(status > 0 ? " (server said \(status))" : "")", retryable: !permanent)
        }
        return (status, Double(total) / 1000)
    }

    /// A transfer to `url`, allowed only `protocols`, ending after `timeout` ms (connecting: at most `connectTimeout`).
    private static func start(url: String, protocols: String, timeout: Int, connectTimeout: Int) throws(DeliveryError) -> CurlTransfer {
        let transfer = try CurlTransfer()
        try transfer.set(CURLOPT_URL, url)
        try transfer.set(CURLOPT_PROTOCOLS_STR, protocols)
        try transfer.set(CURLOPT_TIMEOUT_MS, timeout)
        try transfer.set(CURLOPT_CONNECTTIMEOUT_MS, min(timeout, connectTimeout))
        return transfer
    }

    static func http(_ request: HTTPDelivery) async throws(DeliveryError) -> DeliveryReceipt {
        let transfer = try start(url: request.url, protocols: "http,https", timeout: request.timeoutMilliseconds, connectTimeout: 5_000)
        try transfer.set(CURLOPT_HTTPHEADER, list: request.headers + ["Expect:"])
        if request.method != "POST" { try transfer.set(CURLOPT_CUSTOMREQUEST, request.method) }
        try transfer.check(pinguin_curl_easy_setopt_off_t(transfer.handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count)), CURLOPT_POSTFIELDSIZE_LARGE)
        let code = request.body.withUnsafeBufferPointer { buffer in
            pinguin_curl_easy_setopt_pointer(transfer.handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: buffer.baseAddress ?? UnsafePointer(bitPattern: 1)!))
        }
        try transfer.check(code, CURLOPT_COPYPOSTFIELDS)
        let (status, milliseconds) = try await transfer.run(what: "the request")
        let receipt = DeliveryReceipt(code: status, answer: transfer.answerText, milliseconds: milliseconds)
        guard (200..<300).contains(status) else {
            // 408, 425, 429 and 5xx may pass; any other answer means the request itself is wrong.
            let retryable = status >= 500 || [408, 425, 429].contains(status) || status < 200
            throw DeliveryError("the receiver answered HTTP \(status)\(receipt.answer.isEmpty ? "" : ": \(receipt.answer)")", retryable: retryable)
        }
        return receipt
    }

    static func smtp(_ message: SMTPDelivery) async throws(DeliveryError) -> DeliveryReceipt {
        let transfer = try start(url: message.url, protocols: "smtp,smtps", timeout: message.timeoutMilliseconds, connectTimeout: 10_000)
        try transfer.set(CURLOPT_MAIL_FROM, "<\(message.from)>")
        try transfer.set(CURLOPT_MAIL_RCPT, list: message.recipients.map { "<\($0)>" })
        try transfer.set(CURLOPT_UPLOAD, 1)
        try transfer.check(pinguin_curl_easy_setopt_off_t(transfer.handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(message.message.count)), CURLOPT_INFILESIZE_LARGE)
        if message.requireTLS { try transfer.set(CURLOPT_USE_SSL, Int(CURLUSESSL_ALL.rawValue)) }
        if !message.verifyTLS {
            try transfer.set(CURLOPT_SSL_VERIFYPEER, 0)
            try transfer.set(CURLOPT_SSL_VERIFYHOST, 0)
        }
        if let caFile = message.caFile { try transfer.set(CURLOPT_CAINFO, caFile) }
        if let username = message.username { try transfer.set(CURLOPT_USERNAME, username) }
        if let password = message.password { try transfer.set(CURLOPT_PASSWORD, password) }
        transfer.upload = message.message
        let (status, milliseconds) = try await transfer.run(what: "sending the email")
        return DeliveryReceipt(code: status, answer: "", milliseconds: milliseconds)
    }
}

/// Runs blocking work on a new thread and waits for it without holding a pool thread.
func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: body()) }
        thread.start()
    }
}
