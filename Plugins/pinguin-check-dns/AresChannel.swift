import CAres
import Glibc

/// An error from c-ares, with its status code and `ares_strerror` text.
struct AresError: Error, CustomStringConvertible {
    var status: Int32
    var context: String

    var description: String { "\(context): \(AresError.text(status))" }

    static func text(_ status: Int32) -> String { String(cString: ares_strerror(status)) }
}

/// One c-ares channel (`ares_channel`) with the servers and transport of its ``ResolverKey``.
///
/// A channel is not thread-safe: it is created, used and destroyed on the lookup loop's thread
/// only, which is why this type is not Sendable.
final class AresChannel {
    let key: ResolverKey
    private let handle: ares_channel

    /// Each try waits this long, doubling per round (c-ares' backoff); the check's own timeout
    /// normally ends the lookup first, so these only bound a lookup nobody waits for any more.
    static let tryTimeoutMilliseconds: Int32 = 2000
    static let tries: Int32 = 4

    init(_ key: ResolverKey) throws(AresError) {
        self.key = key
        var options = ares_options()
        // NOCHECKRESP: hand SERVFAIL and REFUSED answers back instead of retrying them, so the
        // check reports what the resolver said.
        options.flags = ARES_FLAG_NOCHECKRESP | (key.transport == .tcp ? ARES_FLAG_USEVC : 0)
        options.timeout = Self.tryTimeoutMilliseconds
        options.tries = Self.tries
        var channel: ares_channel?
        let status = ares_init_options(&channel, &options, ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES)
        guard status == ARES_SUCCESS, let channel else {
            throw AresError(status: status, context: "cannot create a c-ares channel for \(key)")
        }
        if key.server != nil {
            let servers = ares_set_servers_ports_csv(channel, key.address)
            guard servers == ARES_SUCCESS else {
                ares_destroy(channel)
                throw AresError(status: servers, context: "cannot set the resolver \(key)")
            }
        }
        handle = channel
    }

    deinit {
        // Ends every query still in flight with ARES_EDESTRUCTION, which releases its context.
        ares_destroy(handle)
    }

    /// Starts a query; c-ares calls `callback` with `context` exactly once, from ``process(read:write:)``
    /// or from this call itself.
    func query(name: String, type: UInt16, context: UnsafeMutableRawPointer, callback: ares_callback) {
        ares_query(handle, name, 1 /* class IN */, Int32(type), callback, context)
    }

    /// The sockets c-ares wants watched, with what to watch for.
    func sockets() -> [(descriptor: Int32, read: Bool, write: Bool)] {
        var descriptors = [ares_socket_t](repeating: -1, count: Int(ARES_GETSOCK_MAXNUM))
        let bits = descriptors.withUnsafeMutableBufferPointer { ares_getsock(handle, $0.baseAddress, ARES_GETSOCK_MAXNUM) }
        var result: [(descriptor: Int32, read: Bool, write: Bool)] = []
        for index in 0..<Int(ARES_GETSOCK_MAXNUM) {
            let read = bits & (1 << index) != 0
            let write = bits & (1 << (index + Int(ARES_GETSOCK_MAXNUM))) != 0
            guard read || write else { break }
            result.append((descriptors[index], read, write))
        }
        return result
    }

    /// How long until c-ares has a timeout to handle, or nil when nothing is in flight.
    func nextTimeout() -> Duration? {
        var value = timeval()
        guard let next = ares_timeout(handle, nil, &value) else { return nil }
        return .seconds(Int64(next.pointee.tv_sec)) + .microseconds(Int64(next.pointee.tv_usec))
    }

    /// Reads from and writes to ready sockets (-1 for none) and handles due timeouts.
    func process(read: Int32, write: Int32) {
        ares_process_fd(handle, read, write)
    }
}
