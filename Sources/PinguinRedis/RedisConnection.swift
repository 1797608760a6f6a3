import CHiredis
import Foundation
public import Logging
public import PinguinClientKit

/// One Redis connection over hiredis.
///
/// An actor on a ``ThreadExecutor`` of its own, so hiredis's blocking socket calls never run on
/// the cooperative pool. Commands are argument vectors, never format strings (no variadic
/// `redisCommand`): a whole pipeline is encoded as RESP in one buffer and queued with
/// `redisAppendFormattedCommand`, which costs a third of one `redisAppendCommandArgv` per command.
/// Answers are parsed by hiredis's reader, but waiting is ours: `poll(2)` in
/// short slices against a deadline, so `XREADGROUP … BLOCK` and pub/sub reads can time out or be
/// cancelled cleanly. After a timeout, a cancellation or an I/O error the connection is closed,
/// because a reply may still be on its way and would be paired with the wrong command.
public actor RedisConnection {
    private let executor: ThreadExecutor
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    public nonisolated let configuration: RedisConfiguration
    private let logger: Logger
    private var context: UnsafeMutablePointer<redisContext>?
    /// Commands sent whose replies have not been read; non-zero only in pub/sub mode.
    private var isSubscriber = false

    /// Pipelines longer than this are written and read in chunks, bounding both buffers.
    static let pipelineChunk = 1024

    private init(configuration: RedisConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        executor = ThreadExecutor(name: "pinguin-redis")
    }

    isolated deinit {
        if let context { redisFree(context) }
        executor.shutdown()
    }

    /// Connects, authenticates, selects the database and names the client.
    public static func connect(configuration: RedisConfiguration, logger: Logger) async throws(RedisError) -> RedisConnection {
        let connection = RedisConnection(configuration: configuration, logger: logger)
        try await connection.open()
        return connection
    }

    private func open() throws(RedisError) {
        var timeout = timeval(configuration.connectTimeout)
        let made: UnsafeMutablePointer<redisContext>?
        switch configuration.endpoint {
        case .tcp(let host, let port):
            made = redisConnectWithTimeout(host, Int32(port), timeout)
        case .unix(let path):
            made = redisConnectUnixWithTimeout(path, timeout)
        }
        guard let made else {
            throw RedisError(code: .connectionFailed, message: "cannot connect to \(configuration): out of memory")
        }
        if made.pointee.err != 0 {
            let reason = Self.errorString(made)
            redisFree(made)
            throw RedisError(code: .connectionFailed, message: "cannot connect to \(configuration): \(reason)")
        }
        timeout = timeval(configuration.commandTimeout)
        _ = redisSetTimeout(made, timeout)
        _ = redisEnableKeepAlive(made)
        context = made
        do throws(RedisError) {
            if let password = configuration.password {
                var auth = RedisCommand("AUTH")
                if let username = configuration.username { auth.arguments.append(Array(username.utf8)) }
                auth.arguments.append(Array(password.utf8))
                if case .error(let message) = try roundTrip([auth], timeout: configuration.connectTimeout)[0] {
                    throw RedisError(code: .connectionFailed, message: "authentication to \(configuration) failed: \(message)")
                }
            }
            var setup: [RedisCommand] = []
            if configuration.database != 0 { setup.append(RedisCommand("SELECT", configuration.database)) }
            if let name = configuration.clientName { setup.append(RedisCommand("CLIENT", "SETNAME", name)) }
            for (command, reply) in zip(setup, try roundTrip(setup, timeout: configuration.connectTimeout)) {
                if case .error(let message) = reply {
                    throw RedisError(code: .connectionFailed, message: "\(command.name) on \(configuration) failed: \(message)")
                }
            }
        } catch {
            close()
            throw error
        }
        logger.debug("redis connection opened", metadata: ["redis.target": "\(configuration)"])
    }

    public var isClosed: Bool { context == nil }

    public func close() {
        guard let context else { return }
        redisFree(context)
        self.context = nil
        logger.debug("redis connection closed", metadata: ["redis.target": "\(configuration)"])
    }

    // MARK: Commands

    /// Sends one command and returns its reply; an error reply throws ``RedisError/Code/server``.
    /// `blocking` extends the deadline for commands that wait on the server (`BLOCK`, `BLPOP`).
    @discardableResult
    public func send(_ command: RedisCommand, blocking: Duration = .zero) throws(RedisError) -> RedisValue {
        try roundTrip([command], timeout: configuration.commandTimeout + blocking)[0].throwingServerError()
    }

    /// Sends all commands before reading any reply. Error replies are returned in place, as
    /// ``RedisValue/error(_:)``, so one failing command does not hide the others' results.
    public func pipeline(_ commands: [RedisCommand]) throws(RedisError) -> [RedisValue] {
        var replies: [RedisValue] = []
        replies.reserveCapacity(commands.count)
        var start = 0
        while start < commands.count {
            let end = min(commands.count, start + Self.pipelineChunk)
            replies += try roundTrip(commands[start..<end], timeout: configuration.commandTimeout)
            start = end
        }
        return replies
    }

    /// Sends an `XREADGROUP` (or `XREAD`) and turns the reply straight into entries, without the
    /// intermediate ``RedisValue`` tree: the ingester reads tens of thousands of entries a second.
    func sendStreamRead(_ command: RedisCommand, blocking: Duration) throws(RedisError) -> [RedisStreamEntry] {
        let context = try liveContext()
        try append(CollectionOfOne(command), to: context)
        try flush(context)
        let entries = try readReply(
            context, deadline: .now + configuration.commandTimeout + blocking, timeoutIsError: true, wakeDescriptor: nil
        ) { reply throws(RedisError) in try Self.streamEntries(of: reply) }
        return entries ?? []
    }

    private static func streamEntries(of reply: UnsafeMutablePointer<redisReply>) throws(RedisError) -> [RedisStreamEntry] {
        func bytes(_ node: UnsafeMutablePointer<redisReply>) -> [UInt8] {
            guard let pointer = node.pointee.str else { return [] }
            return [UInt8](UnsafeRawBufferPointer(start: pointer, count: node.pointee.len))
        }
        func text(_ node: UnsafeMutablePointer<redisReply>) -> String {
            guard let pointer = node.pointee.str else { return "" }
            return String(decoding: UnsafeRawBufferPointer(start: pointer, count: node.pointee.len), as: UTF8.self)
        }
        switch reply.pointee.type {
        case REDIS_REPLY_NIL:
            return []
        case REDIS_REPLY_ERROR:
            throw RedisError(code: .server, message: text(reply))
        case REDIS_REPLY_ARRAY:
            break
        default:
            throw RedisError(code: .unexpectedReply, message: "stream read reply has an unexpected shape")
        }
        var entries: [RedisStreamEntry] = []
        for streamIndex in 0..<reply.pointee.elements {
            let stream = reply.pointee.element[streamIndex]!
            guard stream.pointee.type == REDIS_REPLY_ARRAY, stream.pointee.elements == 2 else {
                throw RedisError(code: .unexpectedReply, message: "stream read reply has an unexpected shape")
            }
            let streamName = text(stream.pointee.element[0]!)
            let items = stream.pointee.element[1]!
            entries.reserveCapacity(entries.count + items.pointee.elements)
            for itemIndex in 0..<items.pointee.elements {
                let item = items.pointee.element[itemIndex]!
                guard item.pointee.type == REDIS_REPLY_ARRAY, item.pointee.elements == 2 else {
                    throw RedisError(code: .unexpectedReply, message: "stream entry has an unexpected shape")
                }
                let id = text(item.pointee.element[0]!)
                let flat = item.pointee.element[1]!
                var fields: [String: [UInt8]] = [:]
                if flat.pointee.type == REDIS_REPLY_ARRAY {
                    guard flat.pointee.elements % 2 == 0 else {
                        throw RedisError(code: .unexpectedReply, message: "stream entry \(id) has an odd number of field items")
                    }
                    fields.reserveCapacity(flat.pointee.elements / 2)
                    var index = 0
                    while index < flat.pointee.elements {
                        fields[text(flat.pointee.element[index]!)] = bytes(flat.pointee.element[index + 1]!)
                        index += 2
                    }
                }
                entries.append(RedisStreamEntry(id: id, fields: fields, stream: streamName))
            }
        }
        return entries
    }

    // MARK: Pub/sub mode

    /// Writes commands without reading replies: for `SUBSCRIBE` and friends, whose
    /// confirmations arrive as messages. Puts the connection in pub/sub mode for good.
    public func write(_ commands: [RedisCommand]) throws(RedisError) {
        isSubscriber = true
        let context = try liveContext()
        try append(commands, to: context)
        try flush(context)
    }

    /// Reads the next message, or returns nil if none arrives within `timeout`; returns early
    /// (with nil) when `wakeDescriptor` becomes readable.
    public func readMessage(timeout: Duration, wakeDescriptor: Int32? = nil) throws(RedisError) -> RedisValue? {
        let context = try liveContext()
        return try readReply(context, deadline: .now + timeout, timeoutIsError: false, wakeDescriptor: wakeDescriptor)
    }

    // MARK: Health

    /// Whether the connection is open and idle with nothing unexpected to read. Data or EOF
    /// arriving on an idle connection means the server closed it (restart, timeout, `CLIENT KILL`).
    public func isHealthy() -> Bool {
        guard let context, context.pointee.err == 0, !isSubscriber else { return false }
        var descriptor = pollfd(fd: context.pointee.fd, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) == 0
    }

    // MARK: hiredis plumbing

    private func liveContext() throws(RedisError) -> UnsafeMutablePointer<redisContext> {
        guard let context else { throw RedisError(code: .connectionClosed, message: "the connection is closed") }
        return context
    }

    private func roundTrip(_ commands: some Collection<RedisCommand>, timeout: Duration) throws(RedisError) -> [RedisValue] {
        guard !commands.isEmpty else { return [] }
        let context = try liveContext()
        try append(commands, to: context)
        try flush(context)
        let deadline = ContinuousClock.now + timeout
        var replies: [RedisValue] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            guard let reply = try readReply(context, deadline: deadline, timeoutIsError: true, wakeDescriptor: nil) else {
                break
            }
            replies.append(reply)
        }
        return replies
    }

    /// Formats the commands in RESP ourselves, in one buffer, and hands it to hiredis's output buffer.
    private func append(_ commands: some Collection<RedisCommand>, to context: UnsafeMutablePointer<redisContext>) throws(RedisError) {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(commands.count * 64)
        for command in commands { command.encode(into: &buffer) }
        let status = buffer.withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { redisAppendFormattedCommand(context, $0.baseAddress, $0.count) }
        }
        if status != REDIS_OK {
            throw fail(.connectionClosed, "cannot queue commands: \(Self.errorString(context))")
        }
    }

    private func flush(_ context: UnsafeMutablePointer<redisContext>) throws(RedisError) {
        var done: Int32 = 0
        while done == 0 {
            if redisBufferWrite(context, &done) != REDIS_OK {
                throw fail(.connectionClosed, "write to \(configuration) failed: \(Self.errorString(context))")
            }
        }
    }

    /// Reads one reply; nil when the deadline passes and `timeoutIsError` is false, or on wake-up.
    private func readReply(
        _ context: UnsafeMutablePointer<redisContext>, deadline: ContinuousClock.Instant,
        timeoutIsError: Bool, wakeDescriptor: Int32?
    ) throws(RedisError) -> RedisValue? {
        try readReply(context, deadline: deadline, timeoutIsError: timeoutIsError, wakeDescriptor: wakeDescriptor) { reply throws(RedisError) in
            Self.value(of: reply)
        }
    }

    /// Reads one reply and hands hiredis's reply tree to `convert` before freeing it.
    private func readReply<T>(
        _ context: UnsafeMutablePointer<redisContext>, deadline: ContinuousClock.Instant,
        timeoutIsError: Bool, wakeDescriptor: Int32?, convert: (UnsafeMutablePointer<redisReply>) throws(RedisError) -> T
    ) throws(RedisError) -> T? {
        while true {
            var raw: UnsafeMutableRawPointer?
            if redisReaderGetReply(context.pointee.reader, &raw) != REDIS_OK {
                throw fail(.unexpectedReply, "protocol error from \(configuration): \(Self.errorString(context))")
            }
            if let raw {
                defer { freeReplyObject(raw) }
                return try convert(raw.assumingMemoryBound(to: redisReply.self))
            }
            if Task.isCancelled {
                throw fail(.cancelled, "cancelled while waiting for \(configuration)")
            }
            let remaining = deadline - .now
            if remaining <= .zero {
                if timeoutIsError {
                    throw fail(.timedOut, "no answer from \(configuration) within the command timeout")
                }
                return nil
            }
            var descriptors = [pollfd(fd: context.pointee.fd, events: Int16(POLLIN), revents: 0)]
            if let wakeDescriptor {
                descriptors.append(pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0))
            }
            let slice = min(remaining, .milliseconds(100))
            let ready = poll(&descriptors, nfds_t(descriptors.count), Int32(slice.milliseconds.rounded(.up)))
            if ready < 0, errno != EINTR {
                throw fail(.connectionClosed, "poll failed: \(String(cString: strerror(errno)))")
            }
            if descriptors[0].revents != 0 {
                if redisBufferRead(context) != REDIS_OK {
                    throw fail(.connectionClosed, "connection to \(configuration) lost: \(Self.errorString(context))")
                }
            } else if descriptors.count > 1, descriptors[1].revents != 0 {
                return nil
            }
        }
    }

    /// Closes the connection (its stream position is unknown now) and makes the error.
    private func fail(_ code: RedisError.Code, _ message: String) -> RedisError {
        close()
        return RedisError(code: code, message: message)
    }

    private static func errorString(_ context: UnsafeMutablePointer<redisContext>) -> String {
        let text = withUnsafeBytes(of: context.pointee.errstr) { buffer in
            String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
        }
        return text.isEmpty ? "connection closed by the server" : text
    }

    private static func value(of reply: UnsafeMutablePointer<redisReply>) -> RedisValue {
        let node = reply.pointee
        func text() -> [UInt8] {
            guard let pointer = node.str else { return [] }
            return [UInt8](UnsafeRawBufferPointer(start: pointer, count: node.len))
        }
        switch node.type {
        case REDIS_REPLY_STRING:
            return .bulkString(text())
        case REDIS_REPLY_ARRAY:
            var elements: [RedisValue] = []
            elements.reserveCapacity(node.elements)
            for index in 0..<node.elements {
                elements.append(value(of: node.element[index]!))
            }
            return .array(elements)
        case REDIS_REPLY_INTEGER:
            return .integer(node.integer)
        case REDIS_REPLY_NIL:
            return .null
        case REDIS_REPLY_STATUS:
            return .simpleString(String(decoding: text(), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            return .error(String(decoding: text(), as: UTF8.self))
        default:
            return .error("unsupported reply type \(node.type)")
        }
    }
}

extension RedisConnection: PoolableConnection {
    public func prepareForReuse() -> Bool {
        isHealthy()
    }
}

private func timeval(_ duration: Duration) -> timeval {
    let (seconds, attoseconds) = duration.components
    return Glibc.timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
}

extension Duration {
    var milliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }
}

