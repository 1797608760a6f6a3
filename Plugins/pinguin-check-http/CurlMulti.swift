import CCurl
import CPinguinShims

/// The one `CURLM *` multi handle of the process; cleaned up in `deinit`.
///
/// `@unchecked Sendable`: every call but ``wakeup()`` is made by the ``CurlLoop`` thread only;
/// `curl_multi_wakeup` is documented as safe to call from any thread.
final class CurlMulti: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    init() {
        guard let handle = curl_multi_init() else { fatalError("curl_multi_init failed (out of memory)") }
        self.handle = handle
    }

    deinit {
        curl_multi_cleanup(handle)
    }

    func setOption(_ option: CURLMoption, _ value: Int) {
        _ = pinguin_curl_multi_setopt_long(handle, option, value)
    }

    func add(_ easy: CurlEasy) -> CURLMcode { curl_multi_add_handle(handle, easy.handle) }

    func remove(_ easy: CurlEasy) { _ = curl_multi_remove_handle(handle, easy.handle) }

    /// Drives every transfer as far as it goes without blocking.
    func perform() {
        var running: Int32 = 0
        _ = curl_multi_perform(handle, &running)
    }

    /// Waits up to `milliseconds` for activity on any transfer's socket or a ``wakeup()``.
    func poll(milliseconds: Int32) {
        _ = curl_multi_poll(handle, nil, 0, milliseconds, nil)
    }

    func wakeup() {
        _ = curl_multi_wakeup(handle)
    }

    /// The next finished transfer: its easy handle and result.
    func nextDone() -> (easy: UnsafeMutableRawPointer, result: CURLcode)? {
        var queued: Int32 = 0
        while let message = curl_multi_info_read(handle, &queued) {
            if message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle {
                return (easy, message.pointee.data.result)
            }
        }
        return nil
    }
}
